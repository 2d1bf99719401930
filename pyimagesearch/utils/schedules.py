"""Learning-rate schedules for `keras.callbacks.LearningRateScheduler`."""

import numbers
import os

import numpy as np

from pyimagesearch.infra.atomic import atomic_output
from pyimagesearch.infra.validation import check_int, check_number


class LearningRateDecay:
    """Base class: a callable `epoch -> learning rate` that can plot itself."""

    def __call__(self, epoch, lr=None):
        raise NotImplementedError

    def plot(self, epochs, path, title="Learning Rate Schedule"):
        """Draws the learning rate for each epoch and saves the figure.

        Args:
            epochs: number of epochs (plots epochs 0 to `epochs - 1`) or a
                sequence of epoch indices.
            path: image file to write (atomically).
            title: figure title.

        Returns:
            `path`.

        Raises:
            ValueError: `epochs` is not a positive integer or a non-empty sequence.
        """
        from matplotlib.figure import Figure

        if isinstance(epochs, numbers.Integral) and not isinstance(epochs, bool):
            if epochs < 1:
                raise ValueError(f"epochs must be a positive integer or a sequence, got {epochs!r}.")
            epochs = np.arange(epochs)
        epochs = np.asarray(epochs)
        if epochs.ndim != 1 or epochs.size == 0:
            raise ValueError(f"epochs must be a positive integer or a sequence, got {epochs!r}.")
        figure = Figure(figsize=(8, 6))
        axes = figure.subplots()
        axes.plot(epochs, [self(int(e)) for e in epochs])
        axes.set_title(title)
        axes.set_xlabel("Epoch #")
        axes.set_ylabel("Learning Rate")
        with atomic_output(path) as temporary:
            figure.savefig(temporary)
        return os.fspath(path)


class PolynomialDecay(LearningRateDecay):
    """The book's `poly_decay`: `initAlpha * (1 - epoch / maxEpochs) ** power`.

    `power=1` decays linearly to 0 at `maxEpochs`; epochs past it give 0.

    Args:
        maxEpochs: total number of epochs.
        initAlpha: initial learning rate.
        power: exponent of the decay.

    Raises:
        ValueError: a non-positive `maxEpochs` or `initAlpha`, or negative `power`.
    """

    def __init__(self, maxEpochs=100, initAlpha=0.01, power=1.0):
        self.maxEpochs = check_int(maxEpochs, "maxEpochs")
        self.initAlpha = _positive(initAlpha, "initAlpha")
        self.power = check_number(power, "power", minimum=0)

    def __call__(self, epoch, lr=None):
        """Returns the learning rate for `epoch` (0-based); `lr` is ignored."""
        decay = max(0.0, 1.0 - _epoch(epoch) / float(self.maxEpochs))
        return float(self.initAlpha * decay**self.power)


class StepDecay(LearningRateDecay):
    """Step-based decay: `initAlpha * factor ** floor((1 + epoch) / dropEvery)`.

    Args:
        initAlpha: initial learning rate.
        factor: multiplier applied at every drop, such as 0.25 or 0.5.
        dropEvery: epochs between drops.

    Raises:
        ValueError: a non-positive `initAlpha`, `factor` or `dropEvery`.
    """

    def __init__(self, initAlpha=0.01, factor=0.25, dropEvery=10):
        self.initAlpha = _positive(initAlpha, "initAlpha")
        self.factor = _positive(factor, "factor")
        self.dropEvery = check_int(dropEvery, "dropEvery")

    def __call__(self, epoch, lr=None):
        """Returns the learning rate for `epoch` (0-based); `lr` is ignored."""
        drops = np.floor((1 + _epoch(epoch)) / self.dropEvery)
        return float(self.initAlpha * self.factor**drops)


def _epoch(epoch):
    return check_number(epoch, "epoch", minimum=0)


def _positive(value, name):
    return check_number(value, name, minimum=0, include_minimum=False)
