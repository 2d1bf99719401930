"""Loading a training checkpoint to resume training (the book's "ctrl + c" method)."""

import os
import re
import zipfile

from pyimagesearch.infra.processrng import continue_seed_state
from pyimagesearch.infra.validation import check_number

# the native Keras 3 format, and the legacy HDF5 format of the book's epoch_N.hdf5
CHECKPOINT_EXTENSIONS = (".keras", ".hdf5", ".h5")
_LEGACY_EXTENSIONS = (".hdf5", ".h5")


def check_checkpoint_path(path):
    """Raises FileNotFoundError unless the checkpoint `path` exists, naming a sibling.

    A missing `epoch_25.hdf5` next to an existing `epoch_25.keras` (or the
    reverse) is said in the message.

    Args:
        path: the checkpoint file to load.

    Returns:
        `path`, as a `str`.

    Raises:
        FileNotFoundError: `path` is not a file.
    """
    path = os.fspath(path)
    if os.path.isfile(path):
        return path
    (stem, extension) = os.path.splitext(path)
    siblings = [stem + other for other in CHECKPOINT_EXTENSIONS
                if other != extension and os.path.isfile(stem + other)]
    if siblings:
        raise FileNotFoundError(
            f"path {path!r}: no such checkpoint file, but {siblings[0]!r} exists "
            "(EpochCheckpoint writes .keras unless given extension='.hdf5'): pass that path."
        )
    raise FileNotFoundError(f"path {path!r}: no such checkpoint file.")


def save_model(model, path):
    """`model.save(path)` that keeps the model's optimizer for its later saves.

    Keras 3.15's legacy HDF5 save (`.h5`/`.hdf5`) deletes the optimizer from
    the model's own compile config, so a `.keras` file saved afterwards in the
    same process reloads with a default RMSprop and a "Skipping variable
    loading" warning (fixed upstream by keras-team/keras#23475). Here the
    compile config is kept through a legacy save, and a `.keras` save of a
    model that lost it (after the caller's own `.h5` save) puts it back.

    Args:
        model: the `keras.Model` to save.
        path: the file to write (`.keras`, `.h5` or `.hdf5`).
    """
    path = os.fspath(path)
    # the private attribute is the only handle on the config Keras damages;
    # without it (another Keras version) this is a plain model.save
    compile_config = getattr(model, "_compile_config", None)
    if (not isinstance(getattr(compile_config, "config", None), dict)
            or getattr(model, "optimizer", None) is None):
        model.save(path)
        return
    kept = dict(compile_config.config)
    kept.setdefault("optimizer", model.optimizer)
    try:
        compile_config.config = dict(kept)  # the legacy save may edit this copy
        model.save(path)
    finally:
        compile_config.config = kept


def load_checkpoint(path, learning_rate=None, custom_objects=None, verbose=1):
    """Loads a saved model with its optimizer state, optionally with a new learning rate.

    The book's `load_model(path)` then `K.set_value(model.optimizer.lr, 1e-5)`.
    Keras' seed states (Dropout's masks) continue from the checkpoint's step
    (see `continue_seed_state`).
    Keras' safe mode stays on: loading runs no code stored in the file.
    Legacy `.hdf5`/`.h5` files (the book's `epoch_N.hdf5`) load with their
    optimizer state too.

    Args:
        path: a `.keras`, `.hdf5` or `.h5` file, such as one written by
            `EpochCheckpoint`.
        learning_rate: optional new learning rate for the optimizer.
        custom_objects: optional dict of custom layers or functions the model uses.
        verbose: print the old and new learning rates when 1.

    Returns:
        The compiled `keras.Model`.

    Raises:
        FileNotFoundError: `path` does not exist (naming an `epoch_N.keras`
            or `epoch_N.hdf5` beside it).
        ValueError: `path` is not a readable model file (truncated,
            corrupted, not a Keras archive), `learning_rate` is not positive,
            or the model has no optimizer whose learning rate can be set.
    """
    import keras

    path = check_checkpoint_path(path)
    if learning_rate is not None:
        check_number(learning_rate, "learning_rate", minimum=0, include_minimum=False)
    if not path.lower().endswith(_LEGACY_EXTENSIONS):
        _check_keras_archive(path)
    try:
        model = keras.models.load_model(path, custom_objects=custom_objects, safe_mode=True)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(f"path {path!r}: cannot load this checkpoint, the file is damaged "
                         f"({' '.join(str(error).split())}).") from None
    if path.lower().endswith(_LEGACY_EXTENSIONS):
        _restore_legacy_optimizer_state(model, path)
    continue_seed_state(model)
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


def _check_keras_archive(path):
    """Raises ValueError unless `path` is a zip holding a Keras `config.json`."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        raise ValueError(f"path {path!r}: not a .keras checkpoint (not a complete zip "
                         "archive: truncated or another format).") from None
    if "config.json" not in names:
        raise ValueError(f"path {path!r}: not a .keras checkpoint (the zip archive holds "
                         "no config.json).")


def _restore_legacy_optimizer_state(model, path):
    """Restores the optimizer state of a legacy HDF5 checkpoint.

    Keras 3 builds a loaded optimizer for the model's own variables only (none
    for a Sequential or functional model), drops the saved momentum and cannot
    train the model; build it for every trainable variable and set the state.
    """
    import h5py

    optimizer = getattr(model, "optimizer", None)
    with h5py.File(path, "r") as f:
        if optimizer is None or "optimizer_weights" not in f:
            return
        group = f["optimizer_weights"]
        names = [n.decode("utf-8") if isinstance(n, bytes) else str(n)
                 for n in group.attrs["weight_names"]]
        values = [group[name][()] for name in names]
    if len(optimizer.variables) == len(values):
        return
    optimizer.built = False
    optimizer.build(model.trainable_variables)
    try:
        optimizer.set_weights(values)
    except ValueError as error:
        raise ValueError(f"path {path!r}: the saved optimizer state does not fit the "
                         f"model ({error})") from None


def resume_epoch(path=None, startEpoch=None):
    """The epoch a run resumes at: `startEpoch`, else N of `epoch_N.keras`/`.hdf5`, else 0.

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
    match = re.fullmatch(r"epoch_(\d+)\.(?:keras|hdf5|h5)", os.path.basename(os.fspath(path)))
    if match is None:
        raise ValueError(f"cannot read the epoch from {os.fspath(path)!r} (not epoch_N.keras "
                         "or epoch_N.hdf5): pass --start-epoch.")
    return int(match.group(1))


def latest_checkpoint(folder):
    """The last complete `epoch_N.keras` (or `.hdf5`/`.h5`) in `folder`, with N.

    What `--resume auto` resumes from. Checkpoints are written atomically
    (`EpochCheckpoint`), so every file of that name is complete; temporary
    files of an interrupted write are not named so.

    Args:
        folder: the checkpoint folder.

    Returns:
        `(path, epoch)` of the highest epoch, or None when there is none
        (or no folder).
    """
    found = [(epoch, keras_format, name) for (epoch, batch, keras_format, name)
             in _checkpoints(folder) if batch is None]
    if not found:
        return None
    (epoch, _, name) = max(found)
    return os.path.join(folder, name), epoch


_CHECKPOINT_NAME = re.compile(r"epoch_(\d+)(?:_batch_(\d+))?\.(?:keras|hdf5|h5)")


def _checkpoints(folder):
    """`(epoch, batch or None, is .keras, name)` of every complete checkpoint file in `folder`."""
    folder = os.fspath(folder)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        match = _CHECKPOINT_NAME.fullmatch(name)
        if match is not None and os.path.isfile(os.path.join(folder, name)):
            batch = None if match.group(2) is None else int(match.group(2))
            found.append((int(match.group(1)), batch, name.endswith(".keras"), name))
    return found


def resume_point(folder):
    """Where a run resumes: the last complete checkpoint in `folder`, mid-epoch ones included.

    `EpochCheckpoint` writes `epoch_N.keras` at the end of epoch N and, on
    SIGTERM (a preemption), `epoch_N_batch_B.keras` after batch B of epoch
    N + 1. Both are written atomically.

    Args:
        folder: the checkpoint folder.

    Returns:
        `(path, epoch, batch)`: the checkpoint, the epochs it completed and
        the batches of the next epoch it completed (0 for an epoch's
        checkpoint); or None when there is none (or no folder).
    """
    found = [(epoch, batch or 0, keras_format, name)
             for (epoch, batch, keras_format, name) in _checkpoints(folder)]
    if not found:
        return None
    (epoch, batch, _, name) = max(found)
    return os.path.join(os.fspath(folder), name), epoch, batch


def resume_auto(folder, verbose=True):
    """`--resume auto`: the checkpoint to resume from in `folder`, saying so either way.

    Args:
        folder: the checkpoint folder.
        verbose: print one line: where the run resumes, or that no checkpoint
            is there and a new network is trained.

    Returns:
        `(path, epoch, batch)` as `resume_point`, or None.
    """
    found = resume_point(folder)
    if verbose and found is None:
        print(f"[INFO] --resume auto: no checkpoint in {os.fspath(folder)!r}; starting a new "
              f"network from epoch 0", flush=True)
    elif verbose:
        (path, epoch, batch) = found
        where = f"epoch {epoch}" + (f", batch {batch} of epoch {epoch + 1}" if batch else "")
        print(f"[INFO] --resume auto: resuming from {path} ({where})", flush=True)
    return found


def skip_batches(dataset, batches):
    """A `keras.utils.PyDataset` of `dataset`'s batches from `batches` on (one epoch's rest).

    Batch `i` of the view is batch `batches + i` of `dataset`, drawn with the
    same key (an `HDF5DatasetGenerator` keys its draws by epoch and batch), so
    an epoch resumed mid-way sees the uninterrupted run's batches.

    Args:
        dataset: a `keras.utils.PyDataset` (such as an `HDF5DatasetGenerator`).
        batches: the number of batches to skip, in `[0, len(dataset))`.

    Returns:
        The view.

    Raises:
        ValueError: `batches` outside `[0, len(dataset))`.
    """
    import keras

    if isinstance(batches, bool) or not isinstance(batches, int) or not 0 <= batches < len(dataset):
        raise ValueError(f"batches must be an integer in [0, {len(dataset)}), got {batches!r}.")

    class _Rest(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()

        def __len__(self):
            return len(dataset) - batches

        def __getitem__(self, index):
            return dataset[batches + index]

        def on_epoch_end(self):
            dataset.on_epoch_end()

    return _Rest()


def fit_resumed(model, data, *, epochs, initial_epoch=0, initial_batch=0, callbacks=None,
                **kwargs):
    """`model.fit(data, epochs=..., initial_epoch=...)` that starts after batch `initial_batch`.

    With a mid-epoch checkpoint (`resume_point` gave `(path, epoch, batch)`),
    the rest of epoch `epoch + 1` is one `fit` on `skip_batches(data, batch)`,
    then the later epochs a second `fit`; the weights are then, to the bit,
    those of the uninterrupted run. Callbacks see two trainings: those with
    the book's `startAt` (`TrainingMonitor`, also wrapped by
    `Distribution.chief_only`) move on by the resumed epoch. The
    resumed epoch's logged loss averages its remaining batches only.
    With `initial_batch=0` this is one plain `fit`.

    Args:
        model: the compiled model, loaded from the checkpoint.
        data: a `keras.utils.PyDataset`.
        epochs: the epoch training ends at (Keras' `epochs`).
        initial_epoch: the epochs the checkpoint completed.
        initial_batch: the batches of the next epoch it completed.
        callbacks: the callbacks of both fits.
        **kwargs: more arguments of `model.fit`.

    Returns:
        The `History` of the last `fit`.
    """
    callbacks = list(callbacks or [])
    if not initial_batch or initial_epoch >= epochs:
        return model.fit(data, epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks,
                         **kwargs)
    history = model.fit(skip_batches(data, initial_batch), epochs=initial_epoch + 1,
                        initial_epoch=initial_epoch, callbacks=callbacks, **kwargs)
    if initial_epoch + 1 >= epochs:
        return history
    if hasattr(data, "set_epoch") and isinstance(getattr(data, "epoch", None), int):
        # a fit's start calls the data's on_epoch_end once (Keras' EpochIterator.reset), as
        # did the first fit's: the second fit's start is the resumed epoch's end
        data.set_epoch(data.epoch - 1)
    for callback in callbacks:
        # the callback itself, or the one it wraps (`Distribution.chief_only`'s wrapper)
        for target in (callback, getattr(callback, "callback", None)):
            if isinstance(getattr(target, "startAt", None), int):
                target.startAt = initial_epoch + 1
    return model.fit(data, epochs=epochs, initial_epoch=initial_epoch + 1, callbacks=callbacks,
                     **kwargs)
