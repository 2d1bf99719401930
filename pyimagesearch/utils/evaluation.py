"""The book's evaluation printout: classification report, rank-1 and rank-5."""

import numpy as np

from pyimagesearch.utils.ranked import rank5_accuracy


def as_class_names(names):
    """Returns class names as a list of `str`, decoding `bytes` as UTF-8.

    h5py 3 reads the strings of a `label_names` dataset as `bytes`; pass
    `db["label_names"][:]` (or the dataset itself) to get `str` names.

    Args:
        names: an iterable of `str` or `bytes` names.

    Returns:
        A list of `str`.
    """
    return [name.decode("utf-8") if isinstance(name, bytes) else str(name) for name in names]


def evaluate_predictions(preds, labels, classNames, verbose=True):
    """Scores predictions as the book's scripts do, printing the results.

    Args:
        preds: (N, C) class probabilities.
        labels: (N,) integer labels or (N, C) one-hot rows.
        classNames: the C class names, indexed by label (`str`, or `bytes`
            as h5py 3 reads them).
        verbose: print the report, rank-1, and rank-5 when there are more
            than 5 classes (see `print_rank_accuracy`).

    Returns:
        `(report, rank1, rank5)`: scikit-learn's classification report text
        and the rank accuracies as fractions.

    Raises:
        ValueError: `classNames` does not have one name per column of `preds`,
            or the labels do not fit the predictions.
    """
    from sklearn.metrics import classification_report

    preds = np.asarray(preds)
    classNames = as_class_names(classNames)
    if preds.ndim != 2 or preds.shape[1] != len(classNames):
        raise ValueError(
            f"classNames must name each of the {preds.shape[-1]} prediction columns, got {len(classNames)} names."
        )
    (rank1, rank5) = rank5_accuracy(preds, labels)
    labels = np.asarray(labels)[: len(preds)]  # rank5_accuracy warned if there were more
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    report = classification_report(labels, preds.argmax(axis=1), labels=np.arange(len(classNames)),
                                   target_names=classNames, zero_division=0)
    if verbose:
        print(report)
        print_rank_accuracy(rank1, rank5, len(classNames))
    return report, rank1, rank5


def print_rank_accuracy(rank1, rank5, classes):
    """Prints rank-1, and rank-5 only when there are more than 5 classes.

    With 5 classes or fewer the true label is always among the top 5, so
    rank-5 is 100% whatever the model: one line says so instead.

    Args:
        rank1: rank-1 accuracy, a fraction.
        rank5: rank-5 accuracy, a fraction.
        classes: the number of classes.
    """
    print(f"[INFO] rank-1: {rank1 * 100:.2f}%")
    if classes > 5:
        print(f"[INFO] rank-5: {rank5 * 100:.2f}%")
    else:
        print(f"[INFO] rank-5 not shown: with {classes} classes (5 or fewer) it is always 100%")
