"""TrainingMonitor: the training history as JSON and a loss/accuracy plot, every epoch."""

import json
import os
import warnings
import weakref

import keras
import numpy as np

from pyimagesearch.utils.atomic import atomic_output
from pyimagesearch.utils.plots import history_figure

# monitors inside an epoch of a running fit, for `write_history_before_checkpoint`
_IN_EPOCH = weakref.WeakSet()


class TrainingMonitor(keras.callbacks.Callback):
    """Saves the history and a plot of it after every epoch (the book's babysitter).

    Every value Keras logs (`loss`, `accuracy`, `val_loss`, `val_accuracy`,
    ...) is recorded as a float, and so is the optimizer's learning rate. After each epoch the history
    is written to `jsonPath` (atomically) and loss and accuracy curves, training
    and validation, are drawn to `figPath`.

    To resume training from a checkpoint at epoch `startAt` (the book's
    "ctrl + c" method), pass the same `jsonPath` and `startAt`: the saved
    history is cut to its first `startAt` epochs and continues from there. With
    `startAt=0` the history starts empty. An `EpochCheckpoint` of the same fit
    has the history written before it saves, whatever the callbacks' order, so
    every checkpoint has its epochs in the history.

    Args:
        figPath: path of the plot (PNG or any format Matplotlib writes), or None.
        jsonPath: optional path of the JSON history.
        startAt: the epoch training resumes from.

    Raises:
        ValueError: `startAt` is negative or both paths are None.
    """

    def __init__(self, figPath, jsonPath=None, startAt=0):
        super().__init__()
        if isinstance(startAt, bool) or not isinstance(startAt, (int, np.integer)) or startAt < 0:
            raise ValueError(f"startAt must be a non-negative integer, got {startAt!r}.")
        if figPath is None and jsonPath is None:
            raise ValueError("figPath and jsonPath are both None: nothing to write.")
        self.figPath = None if figPath is None else os.fspath(figPath)
        self.jsonPath = None if jsonPath is None else os.fspath(jsonPath)
        self.startAt = int(startAt)
        self.H = {}

    def on_train_begin(self, logs=None):
        self.H = {}
        self._recorded_epoch = None
        for monitor in list(_IN_EPOCH):  # left over by a fit of this model that failed
            if monitor.model is self.model:
                _IN_EPOCH.discard(monitor)
        if self.startAt == 0 or self.jsonPath is None:
            return
        if not os.path.exists(self.jsonPath):
            warnings.warn(
                f"TrainingMonitor: startAt={self.startAt} but jsonPath {self.jsonPath!r} "
                "does not exist; the history starts empty.", stacklevel=2,
            )
            return
        with open(self.jsonPath) as f:
            history = json.load(f)
        self.H = {key: list(values)[: self.startAt] for (key, values) in history.items()}
        kept = max((len(values) for values in self.H.values()), default=0)
        if kept < self.startAt:
            warnings.warn(
                f"TrainingMonitor: startAt={self.startAt} but {self.jsonPath!r} holds "
                f"only {kept} epochs.", stacklevel=2,
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        _IN_EPOCH.add(self)

    def on_train_end(self, logs=None):
        _IN_EPOCH.discard(self)

    def on_epoch_end(self, epoch, logs=None):
        _IN_EPOCH.discard(self)
        if getattr(self, "_recorded_epoch", None) == epoch:
            return  # written already, before a checkpoint of this epoch
        self._recorded_epoch = epoch
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
        if self.figPath is not None:
            with atomic_output(self.figPath) as temporary:
                self.plot().savefig(temporary)

    def plot(self):
        """Draws the history so far.

        Returns:
            A `matplotlib.figure.Figure` with one curve per logged loss or metric.
        """
        epochs = len(self.H.get("loss", []))
        return history_figure(self.H, title=f"Training Loss and Accuracy [Epoch {epochs}]")


def write_history_before_checkpoint(model, epoch, logs):
    """Has every `TrainingMonitor` of `model` in `epoch` record and write the epoch now.

    `EpochCheckpoint` calls this before it saves, so a kill between the two
    writes never leaves a checkpoint whose epoch is missing from the history.

    Args:
        model: the model being trained.
        epoch: the epoch that just ended (0-based, as Keras counts).
        logs: the epoch's logs.
    """
    for monitor in list(_IN_EPOCH):
        if monitor.model is model and monitor._epoch == epoch:
            monitor.on_epoch_end(epoch, logs)
