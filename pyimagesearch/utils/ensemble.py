"""Ensembles: averaging the predictions of several models (the book's chapter 6)."""

import os

import numpy as np


def ensemble_predict(models, x, batch_size=64, verbose=0):
    """Predicts with every member of an ensemble and averages their probabilities.

    Args:
        models: a list of `keras.Model`s and/or paths of saved `.keras` models
            (loaded in Keras' safe mode).
        x: the input, anything `keras.Model.predict` accepts.
        batch_size: batch size of each member's `predict` (ignored by Keras
            when `x` is a dataset that batches itself).
        verbose: Keras' `predict` verbosity.

    Returns:
        `(mean, members)`: the `(N, classes)` average and the
        `(len(models), N, classes)` predictions of each member.

    Raises:
        ValueError: `models` is empty or the members' outputs differ in shape.
        FileNotFoundError: a model path does not exist.
    """
    import keras

    if isinstance(models, (str, os.PathLike)) or not hasattr(models, "__iter__"):
        raise ValueError(f"models must be a list of keras.Model or paths, got {models!r}.")
    models = list(models)
    if not models:
        raise ValueError(
            "models is empty: an ensemble needs at least one model (if it came from a glob, "
            "the pattern matched nothing; the book's glob('models/*.model') finds no Keras 3 "
            "save: train_models.py writes model_*.keras)."
        )
    options = {"batch_size": batch_size} if isinstance(x, (np.ndarray, list, tuple, dict)) else {}
    predictions = []
    for member in models:
        if isinstance(member, (str, os.PathLike)):
            if not os.path.isfile(member):
                raise FileNotFoundError(f"models: no such model file {os.fspath(member)!r}.")
            member = keras.models.load_model(member, safe_mode=True)
        predictions.append(np.asarray(member.predict(x, verbose=verbose, **options)))
    shapes = {p.shape for p in predictions}
    if len(shapes) != 1:
        raise ValueError(f"models must all predict the same shape, got {sorted(shapes)}.")
    members = np.stack(predictions)
    return members.mean(axis=0), members
