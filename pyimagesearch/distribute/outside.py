"""A callback that runs another one outside the run's `keras.distribution`.

Loaded by `Distribution.chief_only` in multi-process runs only: process 0
saves checkpoints and plots as a one-process program would (`model.save`
creates variables, which must involve no other process).
"""

import contextlib

import keras


@contextlib.contextmanager
def outside_distribution():
    """Unsets the global `keras.distribution` for a while."""
    current = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(current)


class OutsideDistribution(keras.callbacks.Callback):
    """Runs every hook of `callback` outside the global distribution.

    Args:
        callback: a `keras.callbacks.Callback` (one that writes files).
    """

    def __init__(self, callback):
        super().__init__()
        self.callback = callback

    def set_model(self, model):
        super().set_model(model)
        self.callback.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.callback.set_params(params)

    def _run(self, hook, *args):
        with outside_distribution():
            return getattr(self.callback, hook)(*args)

    def on_train_begin(self, logs=None):
        self._run("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._run("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._run("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._run("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._run("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._run("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs=None):
        self._run("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._run("on_test_end", logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._run("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._run("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs=None):
        self._run("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._run("on_predict_end", logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._run("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._run("on_predict_batch_end", batch, logs)

    def __repr__(self):
        return f"OutsideDistribution({self.callback!r})"
