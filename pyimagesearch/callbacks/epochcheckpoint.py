"""EpochCheckpoint: saves the whole model every few epochs, to resume training."""

import contextlib
import os
import weakref

import keras

from pyimagesearch.callbacks.folderlock import lock_for
from pyimagesearch.infra.atomic import commit, new_temporary
from pyimagesearch.infra.signals import defer_interrupts, interrupt_requested, raise_if_interrupted
from pyimagesearch.utils.checkpoints import CHECKPOINT_EXTENSIONS, save_model
from pyimagesearch.infra.validation import check_choice, check_int


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves `epoch_{N}.keras` (model, weights and optimizer state) every `every` epochs.

    `N` counts epochs from `startAt`, so a resumed run goes on numbering where
    the last one stopped; a file is written when `N` is a multiple of `every`.
    Load one with `pyimagesearch.utils.load_checkpoint`. `extension=".hdf5"`
    writes the book's `epoch_{N}.hdf5` names, in Keras' legacy HDF5 format
    (keeping the model's optimizer for its later `.keras` saves, which Keras
    3.15 would lose: see `pyimagesearch.utils.checkpoints.save_model`).

    The model is saved at the epoch's end under a temporary name, and renamed
    into place when the next epoch begins or training ends, that is after
    every callback's `on_epoch_end`, whatever the order of the callbacks list.
    So the history that a `TrainingMonitor` (or any callback) writes at the
    epoch's end is on disk before the checkpoint, and a resume from any
    checkpoint finds its epochs in the history. The order is Keras' own (all
    `on_epoch_end` calls, then the next `on_epoch_begin` or `on_train_end`):
    the callbacks need not know each other, and no script has to link them.
    A fit that raises before the rename leaves no file (the temporary is
    removed at the next fit or when the program ends), and a kill leaves
    only a temporary that the next save into the folder removes. While
    training, `outputPath` is held against other runs (see
    `pyimagesearch.callbacks.folderlock`).

    Preemption: within `pyimagesearch.infra.signals.interrupts_handled()`
    (the library's commands, `run_main`, `Distribution.guard`), a SIGTERM
    during training is acted on at the next batch's end: the model (weights,
    optimizer, its step count, hence the schedule's position and Dropout's
    seed state) is saved at once as `epoch_{N}_batch_{B}` (B batches of epoch
    N + 1 done), then training stops. `pyimagesearch.utils.checkpoints`'
    `resume_point` finds it and `fit_resumed` continues from that batch. A
    SIGINT (Ctrl-C) stops at the batch's end without a file, as in the book.

    Args:
        outputPath: folder for the checkpoints (created if missing).
        every: save every this many epochs.
        startAt: the epoch training resumes from.
        saveLast: also save the last epoch when training ends off the
            `every` grid, so a stopped run always resumes from where it ended.
        atSignal: save at the batch reached on SIGTERM (see above).
        extension: ".keras" (Keras 3's format), or ".hdf5" / ".h5" for the
            book's names in the legacy HDF5 format.
        lock: the `pyimagesearch.infra.locks.FolderLock` of `outputPath`,
            handed by the run's owner; None: the callback makes its own.

    Attributes:
        lastPath: the checkpoint renamed into place last, or None.

    Raises:
        ValueError: `every` is not a positive integer, `startAt` is negative
            or `extension` is not one of ".keras", ".hdf5", ".h5".
    """

    def __init__(self, outputPath, every=5, startAt=0, saveLast=False, extension=".keras",
                 atSignal=True, lock=None):
        super().__init__()
        self.every = check_int(every, "every")
        self.intEpoch = check_int(startAt, "startAt", minimum=0)
        check_choice(extension, "extension", CHECKPOINT_EXTENSIONS)
        self.outputPath = os.fspath(outputPath)
        self.extension = extension
        self.saveLast = saveLast
        self.atSignal = bool(atSignal)
        self.lastPath = None
        self._deferring = False
        self._pending = None
        self._lock = lock_for(self.outputPath, lock)
        self._holding = False

    def on_train_begin(self, logs=None):
        self._discard_pending()  # saved by a fit that raised before renaming it
        if not self._holding:
            self._lock.acquire()
            self._holding = True
        if self.atSignal and not self._deferring:
            defer_interrupts(True)  # a signal is acted on at a batch's end, below
            self._deferring = True

    def on_train_batch_end(self, batch, logs=None):
        if not self._deferring or interrupt_requested() is None:
            return
        steps = (self.params or {}).get("steps")
        if steps is not None and batch + 1 >= steps:
            return  # the epoch's last batch: its end (validation, checkpoint) comes first
        if interrupt_requested() == "SIGTERM":
            self._save(f"epoch_{self.intEpoch}_batch_{batch + 1}")
            self._publish()
        self._stop()

    def on_epoch_end(self, epoch, logs=None):
        self.intEpoch += 1
        stopping = self._deferring and interrupt_requested() is not None
        if self.intEpoch % self.every == 0 or (stopping and interrupt_requested() == "SIGTERM"):
            self._save()
        if stopping:
            self._publish()
            self._stop()

    def _stop(self):
        self._deferring = False
        defer_interrupts(False)
        raise_if_interrupted()

    def on_epoch_begin(self, epoch, logs=None):
        self._publish()

    def on_train_end(self, logs=None):
        self._publish()
        if self.saveLast and self.intEpoch % self.every != 0:
            self._save()
            self._publish()
        if self._holding:
            self._lock.release()
            self._holding = False
        if self._deferring:
            self._deferring = False
            defer_interrupts(False)

    def _save(self, name=None):
        """Saves the model under a temporary name, renamed by `_publish`."""
        self._discard_pending()
        name = f"epoch_{self.intEpoch}" if name is None else name
        path = os.path.join(self.outputPath, name + self.extension)
        temporary = new_temporary(path)
        remover = weakref.finalize(self, _remove, temporary)
        try:
            save_model(self.model, temporary)
        except BaseException:
            remover()
            raise
        self._pending = (temporary, path, remover)

    def _publish(self):
        if self._pending is not None:
            (temporary, path, remover) = self._pending
            commit(temporary, path)
            remover.detach()
            self._pending = None
            self.lastPath = path

    def _discard_pending(self):
        if self._pending is not None:
            self._pending[2]()
            self._pending = None


def _remove(path):
    with contextlib.suppress(OSError):
        os.remove(path)
