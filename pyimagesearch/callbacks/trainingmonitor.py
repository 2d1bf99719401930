"""TrainingMonitor: the training history as JSON and a loss/accuracy plot, every epoch."""

import json
import os
import warnings

import keras
import numpy as np

from pyimagesearch.callbacks.folderlock import lock_for
from pyimagesearch.infra.atomic import atomic_output
from pyimagesearch.utils.plots import history_figure
from pyimagesearch.infra.validation import check_int


class TrainingMonitor(keras.callbacks.Callback):
    """Saves the history and a plot of it after every epoch (the book's babysitter).

    Every value Keras logs (`loss`, `accuracy`, `val_loss`, `val_accuracy`,
    ...) is recorded as a float, and so is the optimizer's learning rate. After each epoch the history
    is written to `jsonPath` (atomically) and loss and accuracy curves, training
    and validation, are drawn to `figPath`.

    To resume training from a checkpoint at epoch `startAt` (the book's
    "ctrl + c" method), pass the same `jsonPath` and `startAt`: the saved
    history is cut to its first `startAt` epochs and continues from there. With
    `startAt=0` the history starts empty, so a new run is never mixed into an
    earlier one; where `jsonPath` already holds an earlier run's epochs (which
    the book's TrainingMonitor kept and appended to), a warning names the
    file, its epochs and the `startAt` that continues it.
    An `EpochCheckpoint` of the same fit publishes its files after every
    callback's `on_epoch_end`, so the history written here is on disk first.
    While training, the folders written into are held against other runs
    (see `pyimagesearch.callbacks.folderlock`).

    Args:
        figPath: path of the plot, or None; its extension is a format
            Matplotlib writes (`.png`, `.pdf`, `.svg`, ...), and a path
            without one gets `.png` appended, as the book's `plt.savefig` did.
        jsonPath: optional path of the JSON history.
        startAt: the epoch training resumes from.
        lock: the `pyimagesearch.infra.locks.FolderLock` of the run's output
            folder, handed by the run's owner; a folder it does not cover is
            locked by the callback itself.

    Raises:
        ValueError: `startAt` is negative, both paths are None or `figPath`
            has an extension Matplotlib does not write.
    """

    def __init__(self, figPath, jsonPath=None, startAt=0, lock=None):
        super().__init__()
        self.startAt = check_int(startAt, "startAt", minimum=0)
        if figPath is None and jsonPath is None:
            raise ValueError("figPath and jsonPath are both None: nothing to write.")
        self.figPath = None if figPath is None else os.fspath(figPath)
        self.jsonPath = None if jsonPath is None else os.fspath(jsonPath)
        self.H = {}
        self._plotPath = None if figPath is None else _plot_path(self.figPath)
        self._lock = lock
        self._locks = []

    def on_train_begin(self, logs=None):
        self.H = {}
        self._take_folders()
        if self.jsonPath is None:
            return
        if not os.path.exists(self.jsonPath):
            if self.startAt > 0:
                warnings.warn(
                    f"TrainingMonitor: startAt={self.startAt} but jsonPath {self.jsonPath!r} "
                    "does not exist; the history starts empty.", stacklevel=2,
                )
            return
        history = read_history(self.jsonPath)
        epochs = max((len(values) for values in history.values()), default=0)
        if self.startAt == 0:
            if epochs:
                warnings.warn(
                    f"TrainingMonitor: {self.jsonPath!r} holds {_epochs(epochs)} of an earlier "
                    "run and startAt=0, so this run starts a new history and replaces it (the "
                    "book's TrainingMonitor appended this run's epochs to it); pass "
                    f"startAt={epochs} to continue it.", stacklevel=2,
                )
            return
        self.H = {key: values[: self.startAt] for (key, values) in history.items()}
        if epochs < self.startAt:
            warnings.warn(
                f"TrainingMonitor: startAt={self.startAt} but {self.jsonPath!r} holds "
                f"only {_epochs(epochs)}.", stacklevel=2,
            )

    def on_train_end(self, logs=None):
        self._release_folders()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if "learning_rate" not in logs and "lr" not in logs:
            # LearningRateScheduler logs the rate only to callbacks after it in the list
            optimizer = getattr(self.model, "optimizer", None)
            if optimizer is not None:
                logs["learning_rate"] = optimizer.learning_rate
        for (key, value) in logs.items():
            try:
                value = float(np.asarray(value))
            except (TypeError, ValueError):
                continue
            self.H.setdefault(key, []).append(value)
        if self.jsonPath is not None:
            with atomic_output(self.jsonPath) as temporary:
                with open(temporary, "w") as f:
                    json.dump(self.H, f)
        if self._plotPath is not None:
            with atomic_output(self._plotPath) as temporary:
                self.plot().savefig(temporary, format=os.path.splitext(self._plotPath)[1][1:])

    def _take_folders(self):
        self._release_folders()  # a fit that raised did not reach on_train_end
        folders = {os.path.dirname(os.path.abspath(path))
                   for path in (self.jsonPath, self._plotPath) if path is not None}
        try:
            for folder in sorted(folders):
                self._locks.append(lock_for(folder, self._lock).acquire())
        except BaseException:
            self._release_folders()
            raise

    def _release_folders(self):
        while self._locks:
            self._locks.pop().release()

    def plot(self):
        """Draws the history so far.

        Returns:
            A `matplotlib.figure.Figure` with one curve per logged loss or metric.
        """
        epochs = len(self.H.get("loss", []))
        return history_figure(self.H, title=f"Training Loss and Accuracy [Epoch {epochs}]")



def read_history(path):
    """Reads a `TrainingMonitor` JSON history.

    Args:
        path: the JSON file.

    Returns:
        A dict of per-epoch lists of floats.

    Raises:
        ValueError: the file is not JSON or not a dict of lists of numbers.
    """
    try:
        with open(path) as f:
            history = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"jsonPath {path!r}: not a readable TrainingMonitor history "
                         f"({error}); remove it or pass another jsonPath.") from None
    if not isinstance(history, dict) or not all(
            isinstance(values, list) and all(isinstance(v, (int, float)) for v in values)
            for values in history.values()):
        raise ValueError(f"jsonPath {path!r}: not a TrainingMonitor history (expected an "
                         "object of per-epoch lists of numbers); remove it or pass another jsonPath.")
    return history


def _epochs(count):
    return f"{count} epoch" if count == 1 else f"{count} epochs"


def _plot_path(figPath):
    """`figPath` with `.png` if it has no extension; ValueError for a format Matplotlib lacks."""
    from matplotlib.backend_bases import FigureCanvasBase

    extension = os.path.splitext(figPath)[1].lower()
    if not extension:
        return figPath + ".png"
    formats = FigureCanvasBase.get_supported_filetypes()
    if extension[1:] not in formats:
        raise ValueError(f"figPath {figPath!r}: Matplotlib cannot write {extension!r} files; "
                         f"use one of {', '.join('.' + name for name in sorted(formats))}.")
    return figPath
