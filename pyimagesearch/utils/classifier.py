"""A logistic-regression classifier on extracted features (the book's chapters 3, 4, 10).

A pickled classifier, like any pickle, runs code when loaded: load only files
from a trusted source.
"""

import os
import pickle

import numpy as np

from pyimagesearch.utils.atomic import atomic_output
from pyimagesearch.utils.evaluation import as_class_names

DEFAULT_GRID = {"C": [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]}


def train_classifier(db_path, model_path, jobs=-1, split=0.75, params=None,
                     dataKey="features", max_iter=150, verbose=1):
    """Grid-searches a `LogisticRegression` on the first rows of a features file.

    As the book's `train_model.py`: 3-fold grid search over `C` on the first
    `split` of the rows, a classification report on the rest, and the best
    estimator pickled to `model_path` (written atomically). The estimator also
    carries `label_names_`, which `evaluate_classifier` checks.

    Args:
        db_path: HDF5 file with `features` (or `dataKey`), `labels` and `label_names`.
        model_path: where to pickle the best estimator.
        jobs: parallel jobs of the grid search (-1: all cores).
        split: fraction of rows used for training (the book's 0.75).
        params: grid of `LogisticRegression` parameters; the book's `C` grid by default.
        dataKey: name of the features dataset.
        max_iter: iterations of the solver.
        verbose: print the best parameters and the report when 1.

    Returns:
        A dict with `best_params`, `accuracy` (on the held-out rows) and
        `report` (scikit-learn's classification report text).

    Raises:
        FileNotFoundError: `db_path` does not exist.
        ValueError: a dataset is missing, labels lie outside `label_names`,
            `split` leaves no rows on a side, or training rows hold one class.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import classification_report
    from sklearn.model_selection import GridSearchCV

    (train_x, train_y, test_x, test_y, names) = _read_split(db_path, split, dataKey)
    if len(np.unique(train_y)) < 2:
        raise ValueError(f"db {db_path!r}: the training rows hold a single class; "
                         "shuffle the rows before writing the features file.")
    search = GridSearchCV(LogisticRegression(max_iter=max_iter), params or DEFAULT_GRID,
                          cv=3, n_jobs=jobs)
    search.fit(train_x, train_y)
    model = search.best_estimator_
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
    with atomic_output(model_path) as temporary:
        with open(temporary, "wb") as f:
            pickle.dump(model, f)
    return {"best_params": dict(search.best_params_), "accuracy": accuracy, "report": report}


def evaluate_classifier(db_path, model_path, split=0.75, dataKey="features"):
    """Rank-1 and rank-5 accuracy of a pickled classifier on the held-out rows.

    As the book's `rank_accuracy.py`. Only load pickles you trust.

    Args:
        db_path: HDF5 features file, as for `train_classifier`.
        model_path: pickled scikit-learn classifier with `predict_proba`.
        split: fraction of rows used for training; the rest are evaluated.
        dataKey: name of the features dataset.

    Returns:
        `(rank1, rank5)`, fractions in [0, 1].

    Raises:
        FileNotFoundError: `db_path` or `model_path` does not exist.
        ValueError: the model was trained on other classes or feature sizes.
    """
    from pyimagesearch.utils.ranked import rank5_accuracy

    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"model {os.fspath(model_path)!r}: no such file.")
    (_, _, test_x, test_y, names) = _read_split(db_path, split, dataKey)
    with open(model_path, "rb") as f:
        model = pickle.load(f)
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


def _read_split(db_path, split, dataKey):
    import h5py

    if not os.path.isfile(db_path):
        raise FileNotFoundError(f"db {os.fspath(db_path)!r}: no such features file.")
    if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 < split < 1:
        raise ValueError(f"split must be a fraction between 0 and 1, got {split!r}.")
    with h5py.File(db_path, "r") as db:
        for key in (dataKey, "labels", "label_names"):
            if key not in db:
                raise ValueError(f"db {os.fspath(db_path)!r} has no {key!r} dataset "
                                 f"(it holds {sorted(db.keys())}).")
        (data, labels) = (db[dataKey], db["labels"])
        if data.ndim != 2 or labels.ndim != 1 or len(data) != len(labels):
            raise ValueError(f"db {os.fspath(db_path)!r}: {dataKey!r} must be (N, D) and "
                             f"'labels' (N,), got {data.shape} and {labels.shape}.")
        i = int(len(labels) * split)
        if i == 0 or i == len(labels):
            raise ValueError(f"split {split} of {len(labels)} rows leaves no training or test rows.")
        names = as_class_names(db["label_names"][:])
        (train_x, test_x) = (data[:i], data[i:])
        labels = labels[:]
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"db {os.fspath(db_path)!r}: 'labels' must be integers, got {labels.dtype}.")
    if labels.size and (labels.min() < 0 or labels.max() >= len(names)):
        raise ValueError(f"db {os.fspath(db_path)!r}: labels run from {labels.min()} to "
                         f"{labels.max()}, outside the {len(names)} label_names.")
    return train_x, labels[:i], test_x, labels[i:], names
