"""Rank-N accuracy (the book's rank-1/rank-5), vectorised."""

import warnings

import numpy as np

from pyimagesearch.infra.validation import check_int


def rank_accuracy(preds, labels, ranks=(1, 5)):
    """Fraction of rows whose true label is among the `k` highest scores, per k.

    Classes are ranked by descending score; tied scores rank the higher class
    index first, as the book's `np.argsort(p)[::-1]` does with a stable sort
    (and as scikit-learn's `top_k_accuracy_score` does).

    When `labels` holds more rows than `preds` (the book's
    `model.predict(testGen.generator(), steps=numImages // 64)` predicts whole
    batches only), the `N` predicted rows are scored against the first `N`
    labels: hits / N. The book's function looped over the same rows but
    divided by `len(labels)`, so it reported less (30 hits of 64 predictions
    over 70 labels: 46.88% here, 42.86% in the book's code); a warning gives
    both figures.

    Args:
        preds: (N, C) array of class scores or probabilities.
        labels: (N,) integer labels in [0, C), or (N, C) one-hot rows; more
            than N rows are cut to the first N, with a warning.
        ranks: positive integers k.

    Returns:
        A dict mapping each k to its accuracy in [0, 1].

    Raises:
        ValueError: shapes disagree, `labels` has fewer rows than `preds`, a
            label lies outside [0, C), a rank is not a positive integer, or
            `preds` holds NaN or infinity (a model whose training diverged
            predicts NaN, which would otherwise rank its label first).
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] == 0:
        raise ValueError(f"preds must be an (N, C) array, got shape {preds.shape}.")
    _check_finite(preds)
    (labels, given) = _label_indices(labels, preds.shape)
    for i, k in enumerate(ranks):
        check_int(k, f"ranks[{i}]")
    position = _positions(preds, labels, max(ranks, default=1))
    if len(labels) == 0:
        return {k: 0.0 for k in ranks}
    hits = {k: int(np.count_nonzero(position < k)) for k in ranks}
    if given > len(labels):
        _warn_cut_labels(hits, len(labels), given)
    return {k: hits[k] / len(labels) for k in ranks}


def rank5_accuracy(preds, labels):
    """The book's rank-1 and rank-5 accuracy.

    Args:
        preds: (N, C) array of class scores or probabilities.
        labels: (N,) integer labels or (N, C) one-hot rows; more than N rows
            are cut to the first N, with a warning, as in `rank_accuracy`
            (which says how the book's denominator differed).

    Returns:
        `(rank1, rank5)`, fractions in [0, 1]; rank-5 is 1.0 with 5 classes or fewer.

    Raises:
        ValueError: as `rank_accuracy`, e.g. for NaN predictions.
    """
    accuracy = rank_accuracy(preds, labels, ranks=(1, 5))
    return accuracy[1], accuracy[5]


def _positions(preds, labels, limit):
    """0-based rank of each row's true label (0 = highest score), exact below `limit`."""
    true_scores = preds[np.arange(len(labels)), labels][:, np.newaxis]
    # summing a uint8 view of the mask is markedly faster than count_nonzero(axis=1)
    position = (preds > true_scores).view(np.uint8).sum(axis=1, dtype=np.int64)
    # a tie ranked ahead (higher class index) only matters while the label ranks below `limit`
    rows = np.flatnonzero(position < limit)
    if rows.size > len(labels) // 4:
        equal = preds == true_scores
        if np.count_nonzero(equal) == len(labels):
            return position  # no score equals a row's true score but itself
        rows = rows[equal[rows].view(np.uint8).sum(axis=1) > 1]
    if rows.size:
        tied = preds[rows] == true_scores[rows]
        tied &= np.arange(preds.shape[1]) > labels[rows, np.newaxis]
        position[rows] += tied.view(np.uint8).sum(axis=1, dtype=np.int64)
    return position


def _check_finite(preds):
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(preds.sum()):  # one NaN or infinity makes the sum one; cheaper than a mask
            return
    finite = np.isfinite(preds)
    if not finite.all():  # else the finite scores only overflowed the sum
        rows = np.count_nonzero(~finite.all(axis=1))
        raise ValueError(
            f"preds holds {finite.size - np.count_nonzero(finite)} scores that are NaN or infinite, "
            f"in {rows} of {len(preds)} rows: the model did not predict numbers, which means its "
            "training diverged (loss NaN); no accuracy can be scored. Lower the learning rate."
        )


def _warn_cut_labels(hits, n, given):
    def figures(denominator):
        return ", ".join(f"rank-{k} {hits[k] / denominator:.2%}" for k in hits)

    warnings.warn(
        f"labels has {given} rows but preds only {n}: scoring the {n} predicted rows against "
        f"the first {n} labels ({figures(n)}); the book's rank5_accuracy scored the same rows "
        f"but divided by all {given} labels ({figures(given)}). To score every image, predict "
        "them all with model.predict(testGen).", stacklevel=3,
    )


def _label_indices(labels, preds_shape):
    """The labels as (N,) int64 indices cut to the N rows of preds, and how many rows were given."""
    labels = np.asarray(labels)
    (n, classes) = preds_shape
    given = len(labels) if labels.ndim in (1, 2) else 0
    if labels.ndim in (1, 2) and len(labels) > n:
        labels = labels[:n]
    if labels.ndim == 2:
        if labels.shape != preds_shape:
            raise ValueError(
                f"one-hot labels must have the shape of preds {preds_shape}, got {labels.shape}."
            )
        labels = labels.argmax(axis=1)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"labels must hold {n} entries to match preds, got shape {labels.shape}.")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise ValueError("labels must be integer class indices.")
        labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"labels must lie in [0, {classes}), got values from {labels.min()} to {labels.max()}."
        )
    return labels.astype(np.int64, copy=False), given
