"""StopOnSignal: Ctrl-C or SIGTERM stops `fit`, `predict` or `evaluate` between two batches."""

import keras

from pyimagesearch.infra.signals import defer_interrupts, interrupt_requested, raise_if_interrupted


class StopOnSignal(keras.callbacks.Callback):
    """Raises `KeyboardInterrupt` at the first batch end after Ctrl-C or SIGTERM.

    Within `pyimagesearch.infra.signals.interrupts_handled()` (the library's
    commands and example scripts run inside it), a first stop signal during
    a run with this callback is only recorded, and the callback raises the
    `KeyboardInterrupt` between two batches: never inside a garbage-collection
    or native callback, where Python would drop it (the JAX backend) or the
    process would abort. The epoch under way is not finished, so the last
    complete epoch's checkpoint and history are the last ones written. A
    second signal stops at once. Without `interrupts_handled()` the callback
    does nothing, and Ctrl-C behaves as Python's default. On SIGTERM the
    stop comes at the next batch's start, after every callback's batch end:
    an `EpochCheckpoint` saves the batch reached first, wherever it is listed.
    """

    def __init__(self):
        super().__init__()
        self._depth = 0  # validation runs inside fit

    def on_train_begin(self, logs=None):
        self._begin()

    def on_train_end(self, logs=None):
        self._end()

    def on_test_begin(self, logs=None):
        self._begin()

    def on_test_end(self, logs=None):
        self._end()

    def on_predict_begin(self, logs=None):
        self._begin()

    def on_predict_end(self, logs=None):
        self._end()

    def on_train_batch_end(self, batch, logs=None):
        if interrupt_requested() != "SIGTERM":
            self._check()

    def on_train_batch_begin(self, batch, logs=None):
        # SIGTERM: after every callback's batch end, so that an EpochCheckpoint
        # anywhere in the list saves the batch reached first
        self._check()

    def on_test_batch_end(self, batch, logs=None):
        self._check()

    def on_predict_batch_end(self, batch, logs=None):
        self._check()

    def _begin(self):
        self._depth += 1
        defer_interrupts(True)

    def _end(self):
        self._depth = max(0, self._depth - 1)
        defer_interrupts(False)
        if self._depth == 0:  # the epoch's own callbacks (checkpoint, history) run after validation
            self._check()

    def _check(self):
        if interrupt_requested() is not None:
            self._depth = 0
            raise_if_interrupted()
