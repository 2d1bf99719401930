"""EpochCheckpoint: saves the whole model every few epochs, to resume training."""

import os

import keras
import numpy as np

from pyimagesearch.callbacks.trainingmonitor import write_history_before_checkpoint
from pyimagesearch.utils.atomic import atomic_output
from pyimagesearch.utils.checkpoints import CHECKPOINT_EXTENSIONS


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves `epoch_{N}.keras` (model, weights and optimizer state) every `every` epochs.

    `N` counts epochs from `startAt`, so a resumed run goes on numbering where
    the last one stopped; a file is written when `N` is a multiple of `every`.
    Files are written atomically: an interrupted save leaves no partial file,
    and a `TrainingMonitor` of the same fit writes its history first, so a
    resume from any checkpoint finds a continuous history.
    Load one with `pyimagesearch.utils.load_checkpoint`. `extension=".hdf5"`
    writes the book's `epoch_{N}.hdf5` names, in Keras' legacy HDF5 format.

    Args:
        outputPath: folder for the checkpoints (created if missing).
        every: save every this many epochs.
        startAt: the epoch training resumes from.
        saveLast: also save the last epoch when training ends off the
            `every` grid, so a stopped run always resumes from where it ended.
        extension: ".keras" (Keras 3's format), or ".hdf5" / ".h5" for the
            book's names in the legacy HDF5 format.

    Attributes:
        lastPath: the checkpoint written last, or None.

    Raises:
        ValueError: `every` is not a positive integer, `startAt` is negative
            or `extension` is not one of ".keras", ".hdf5", ".h5".
    """

    def __init__(self, outputPath, every=5, startAt=0, saveLast=False, extension=".keras"):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}.")
        if isinstance(startAt, bool) or not isinstance(startAt, (int, np.integer)) or startAt < 0:
            raise ValueError(f"startAt must be a non-negative integer, got {startAt!r}.")
        if extension not in CHECKPOINT_EXTENSIONS:
            raise ValueError(f"extension must be one of {CHECKPOINT_EXTENSIONS}, got {extension!r}.")
        self.outputPath = os.fspath(outputPath)
        self.extension = extension
        self.every = int(every)
        self.intEpoch = int(startAt)
        self.saveLast = saveLast
        self.lastPath = None

    def on_epoch_end(self, epoch, logs=None):
        self.intEpoch += 1
        if self.intEpoch % self.every == 0:
            write_history_before_checkpoint(self.model, epoch, logs)
            self._save()

    def on_train_end(self, logs=None):
        if self.saveLast and self.intEpoch % self.every != 0:
            self._save()

    def _save(self):
        path = os.path.join(self.outputPath, f"epoch_{self.intEpoch}{self.extension}")
        with atomic_output(path) as temporary:
            self.model.save(temporary, overwrite=True)
        self.lastPath = path
