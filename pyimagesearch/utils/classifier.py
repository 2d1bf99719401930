"""A logistic-regression classifier on extracted features (the book's chapters 3, 4, 10).

The classifier is saved with `skops.io`, scikit-learn's secure persistence
format: loading it runs no code, and a file holding any type outside skops'
trusted set (scikit-learn, NumPy, SciPy) is refused. The book pickled it; a
pickle runs its code when loaded, so one is read only with `trust_pickle=True`
(`--trust-pickle`).
"""

import os
import pickle
import warnings
import zipfile

import numpy as np

from pyimagesearch.infra.atomic import atomic_output
from pyimagesearch.utils.evaluation import as_class_names
from pyimagesearch.infra.validation import check_number, renamed_keyword

DEFAULT_GRID = {"C": [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]}


def train_classifier(db_path, model_path, jobs=-1, split=0.75, params=None,
                     data_key="features", max_iter=150, verbose=1, dataKey=None):
    """Grid-searches a `LogisticRegression` on the first rows of a features file.

    As the book's `train_model.py`: 3-fold grid search over `C` on the first
    `split` of the rows, a classification report on the rest, and the best
    estimator saved to `model_path` (written atomically) with `skops.io`
    instead of the book's pickle (see `load_classifier`). The estimator also
    carries `label_names_`, which `evaluate_classifier` checks.

    Args:
        db_path: HDF5 file with `features` (or `data_key`), `labels` and `label_names`.
        model_path: where to save the best estimator (a skops file, e.g. `model.skops`).
        jobs: parallel jobs of the grid search (-1: all cores).
        split: fraction of rows used for training (the book's 0.75).
        params: grid of `LogisticRegression` parameters; the book's `C` grid by default.
        data_key: name of the features dataset.
        dataKey: `data_key`'s old name (deprecated).
        max_iter: iterations of the solver. When the chosen model's solver
            stops at this limit before converging, one `[WARNING]` line says
            so (instead of scikit-learn's ConvergenceWarning for every fit).
        verbose: print the best parameters and the report when 1.

    Returns:
        A dict with `best_params`, `accuracy` (on the held-out rows) and
        `report` (scikit-learn's classification report text).

    Raises:
        FileNotFoundError: `db_path` does not exist.
        OSError: `model_path` cannot be written (naming it).
        ValueError: `db_path` is not an HDF5 file or is corrupted (a checksum
            fails), a dataset is missing, labels lie outside `label_names`,
            `split` leaves no rows on a side, or training rows hold one class.
    """
    data_key = renamed_keyword(dataKey, "dataKey", data_key, "data_key", "features", "train_classifier")
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import classification_report
    from sklearn.model_selection import GridSearchCV

    (train_x, train_y, test_x, test_y, names) = _read_split(db_path, split, data_key)
    if len(np.unique(train_y)) < 2:
        raise ValueError(f"db {db_path!r}: the training rows hold a single class; "
                         "shuffle the rows before writing the features file.")
    search = GridSearchCV(LogisticRegression(max_iter=max_iter), params or DEFAULT_GRID,
                          cv=3, n_jobs=jobs)
    with warnings.catch_warnings():  # scikit-learn passes the filter on to its workers
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(train_x, train_y)
    model = search.best_estimator_
    if int(np.max(model.n_iter_)) >= max_iter:
        print(f"[WARNING] the solver stopped at max_iter={max_iter} before converging (scikit-learn's "
              "ConvergenceWarning, here once for the whole grid): raise the limit with --max-iter "
              "(max_iter=) for the converged model")
    model.label_names_ = list(names)
    preds = model.predict(test_x)
    labels = np.arange(len(names))
    report = classification_report(test_y, preds, labels=labels, target_names=names,
                                   zero_division=0)
    accuracy = float(np.mean(preds == test_y))
    if verbose:
        print(f"[INFO] best hyperparameters: {search.best_params_}")
        print(report)
        print(f"[INFO] accuracy: {accuracy * 100:.2f}%")
    import skops.io

    try:
        with atomic_output(model_path) as temporary:
            skops.io.dump(model, temporary)
    except OSError as error:
        if error.filename is not None:
            raise
        raise OSError(error.errno, error.strerror or str(error), os.fspath(model_path)) from error
    return {"best_params": dict(search.best_params_), "accuracy": accuracy, "report": report}


def load_classifier(model_path, trust_pickle=False):
    """Loads a classifier saved by `train_classifier` (or the book's pickle).

    A skops file is read with `skops.io.load`, which runs no code; it is
    refused if it holds a type outside skops' trusted set (scikit-learn,
    NumPy, SciPy). A pickle, as the book's `train_model.py` wrote, runs code
    when loaded: it is read only with `trust_pickle=True`.

    Args:
        model_path: a skops file, or a pickle with `trust_pickle`.
        trust_pickle: whether a pickle may be loaded (only from a source you trust).

    Returns:
        The classifier.

    Raises:
        FileNotFoundError: `model_path` is not a file.
        ValueError: `model_path` is a pickle without `trust_pickle`, holds
            untrusted types, or is neither a skops file nor a pickle.
    """
    path = os.fspath(model_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"model {path!r}: no such file.")
    if zipfile.is_zipfile(path):
        return _load_skops(path)
    if not trust_pickle:
        with open(path, "rb") as handle:
            looks_pickled = handle.read(1) == b"\x80"  # the opcode that starts pickle protocols 2+
        kind = "a pickle" if looks_pickled else "not a skops file (as train-classifier writes)"
        raise ValueError(
            f"model {path!r} is {kind}. If it is a pickle from the book's train_model.py and "
            "you trust its source, pass --trust-pickle (trust_pickle=True): loading a pickle "
            "runs its code. Or retrain it with train-classifier, which writes a skops file."
        )
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except Exception as error:  # unpickling a foreign file can raise almost anything
        raise ValueError(f"model {path!r} is not a readable pickle ({type(error).__name__}: {error}).") from None


def _load_skops(path):
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as error:  # a zip that is not a skops file: no schema, bad JSON...
        raise ValueError(f"model {path!r} is a zip archive but not a skops file "
                         f"({type(error).__name__}: {error}).") from None
    if untrusted:
        raise ValueError(
            f"model {path!r} holds types outside the classifier's trusted set, refused: "
            f"{untrusted[:5]}{' ...' if len(untrusted) > 5 else ''}."
        )
    return skops.io.load(path)  # skops refuses untrusted types here too


def evaluate_classifier(db_path, model_path, split=0.75, data_key="features", trust_pickle=False,
                        dataKey=None):
    """Rank-1 and rank-5 accuracy of a saved classifier on the held-out rows.

    As the book's `rank_accuracy.py`; the model is loaded by `load_classifier`.

    Args:
        db_path: HDF5 features file, as for `train_classifier`.
        model_path: the classifier saved by `train_classifier` (skops), or a
            pickle from the book's `train_model.py` with `trust_pickle`.
        split: fraction of rows used for training; the rest are evaluated.
        data_key: name of the features dataset.
        dataKey: `data_key`'s old name (deprecated).
        trust_pickle: whether a pickle may be loaded (it runs its code).

    Returns:
        `(rank1, rank5)`, fractions in [0, 1].

    Raises:
        FileNotFoundError: `db_path` or `model_path` does not exist.
        ValueError: `db_path` is not an HDF5 features file or is corrupted,
            the model cannot be loaded (see `load_classifier`), or it was trained on other
            classes or feature sizes.
    """
    data_key = renamed_keyword(dataKey, "dataKey", data_key, "data_key", "features", "evaluate_classifier")
    from pyimagesearch.utils.ranked import rank5_accuracy

    (_, _, test_x, test_y, names) = _read_split(db_path, split, data_key)
    model = load_classifier(model_path, trust_pickle=trust_pickle)
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        raise ValueError(f"model {os.fspath(model_path)!r} is not a fitted classifier "
                         "with predict_proba.")
    trained_names = getattr(model, "label_names_", None)
    if trained_names is not None and list(trained_names) != list(names):
        raise ValueError(
            f"model {os.fspath(model_path)!r} was trained on classes {list(trained_names)[:10]}, "
            f"but db {os.fspath(db_path)!r} has label_names {list(names)[:10]}."
        )
    classes = np.asarray(model.classes_)
    if not np.issubdtype(classes.dtype, np.integer) or classes.min() < 0 or classes.max() >= len(names):
        raise ValueError(f"model {os.fspath(model_path)!r} predicts classes {classes.tolist()[:10]}, "
                         f"not indices of the db's {len(names)} label_names.")
    features = getattr(model, "n_features_in_", test_x.shape[1])
    if features != test_x.shape[1]:
        raise ValueError(f"model {os.fspath(model_path)!r} expects {features} features per row, "
                         f"db {os.fspath(db_path)!r} has {test_x.shape[1]}.")
    probs = np.zeros((len(test_x), len(names)))
    probs[:, classes] = model.predict_proba(test_x)
    return rank5_accuracy(probs, test_y)


def _read_split(db_path, split, data_key):
    import h5py

    if not os.path.isfile(db_path):
        raise FileNotFoundError(f"db {os.fspath(db_path)!r}: no such features file.")
    check_number(split, "split", minimum=0, maximum=1, include_minimum=False, include_maximum=False)
    try:
        db = h5py.File(db_path, "r")
    except OSError as error:  # h5py: "file signature not found", a truncated file...
        raise ValueError(f"db {os.fspath(db_path)!r} is not a readable HDF5 features file "
                         f"({' '.join(str(error).split())}).") from None
    with db:
        for key in (data_key, "labels", "label_names"):
            if key not in db:
                raise ValueError(f"db {os.fspath(db_path)!r} has no {key!r} dataset "
                                 f"(it holds {sorted(db.keys())}).")
        (data, labels) = (db[data_key], db["labels"])
        if data.ndim != 2 or labels.ndim != 1 or len(data) != len(labels):
            raise ValueError(f"db {os.fspath(db_path)!r}: {data_key!r} must be (N, D) and "
                             f"'labels' (N,), got {data.shape} and {labels.shape}.")
        i = int(len(labels) * split)
        if i == 0 or i == len(labels):
            raise ValueError(f"split {split} of {len(labels)} rows leaves no training or test rows.")
        try:
            names = as_class_names(db["label_names"][:])
            (train_x, test_x) = (data[:i], data[i:])
            labels = labels[:]
        except OSError as error:  # h5py: "filter returned failure during read" (a checksum), ...
            raise ValueError(f"db {os.fspath(db_path)!r} is corrupted: reading it failed "
                             f"({' '.join(str(error).split())}); extract the features again.") from None
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"db {os.fspath(db_path)!r}: 'labels' must be integers, got {labels.dtype}.")
    if labels.size and (labels.min() < 0 or labels.max() >= len(names)):
        raise ValueError(f"db {os.fspath(db_path)!r}: labels run from {labels.min()} to "
                         f"{labels.max()}, outside the {len(names)} label_names.")
    return train_x, labels[:i], test_x, labels[i:], names
