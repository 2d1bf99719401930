"""Loading a training checkpoint to resume training (the book's "ctrl + c" method)."""

import numbers
import os
import re


def load_checkpoint(path, learning_rate=None, custom_objects=None, verbose=1):
    """Loads a saved model with its optimizer state, optionally with a new learning rate.

    The book's `load_model(path)` then `K.set_value(model.optimizer.lr, 1e-5)`.
    Keras' safe mode stays on: loading runs no code stored in the file.

    Args:
        path: a `.keras` file, such as one written by `EpochCheckpoint`.
        learning_rate: optional new learning rate for the optimizer.
        custom_objects: optional dict of custom layers or functions the model uses.
        verbose: print the old and new learning rates when 1.

    Returns:
        The compiled `keras.Model`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `learning_rate` is not positive, or the model has no
            optimizer whose learning rate can be set.
    """
    import keras

    if not os.path.isfile(path):
        raise FileNotFoundError(f"path {os.fspath(path)!r}: no such checkpoint file.")
    if learning_rate is not None and (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, numbers.Real)
        or not learning_rate > 0
    ):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}.")
    model = keras.models.load_model(path, custom_objects=custom_objects, safe_mode=True)
    if learning_rate is None:
        return model
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError(f"path {os.fspath(path)!r} holds a model without an optimizer; "
                         "learning_rate cannot be set.")
    schedule = keras.optimizers.schedules.LearningRateSchedule
    if isinstance(getattr(optimizer, "_learning_rate", None), schedule):
        raise ValueError(f"the optimizer in {os.fspath(path)!r} uses a learning-rate "
                         "schedule; learning_rate cannot be set.")
    old = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    optimizer.learning_rate.assign(learning_rate)
    if verbose:
        new = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        print(f"[INFO] old learning rate: {old:.6g}")
        print(f"[INFO] new learning rate: {new:.6g}")
    return model


def resume_epoch(path=None, startEpoch=None):
    """The epoch a run resumes at: `startEpoch`, else the N of an `epoch_N.keras` path, else 0.

    Args:
        path: the checkpoint training resumes from, or None for a new network.
        startEpoch: the epoch given explicitly (the scripts' `--start-epoch`).

    Returns:
        The number of epochs already trained.

    Raises:
        ValueError: a negative `startEpoch`, a positive one without `path`, or
            a `path` whose name does not hold its epoch.
    """
    if startEpoch is not None:
        if startEpoch < 0 or (path is None and startEpoch > 0):
            raise ValueError("--start-epoch must be 0 for a new network and >= 0 with --model.")
        return int(startEpoch)
    if path is None:
        return 0
    match = re.fullmatch(r"epoch_(\d+)\.keras", os.path.basename(os.fspath(path)))
    if match is None:
        raise ValueError(f"cannot read the epoch from {os.fspath(path)!r} (not epoch_N.keras): "
                         "pass --start-epoch.")
    return int(match.group(1))
