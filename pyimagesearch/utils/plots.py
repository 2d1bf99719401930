"""Training-curve plots in the book's style, drawn headless and written atomically."""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pyimagesearch.utils.atomic import atomic_output

NOT_PLOTTED = ("learning_rate", "lr")


def history_figure(history, title="Training Loss and Accuracy", startAt=0):
    """Draws every logged loss and metric, training and validation, against epochs.

    Curves come in the book's order: loss, val_loss, then each metric beside
    its val_ twin. A curve shorter than the others is aligned on the last epoch.

    Args:
        history: a dict of per-epoch lists (`keras.callbacks.History.history`,
            the `TrainingMonitor` JSON) or a `History` object.
        title: figure title.
        startAt: number of epochs before the first entry (for resumed runs).

    Returns:
        A `matplotlib.figure.Figure` (no pyplot state, safe off the main thread).
    """
    history = getattr(history, "history", history)
    keys = sorted((key for key in history if key not in NOT_PLOTTED and history[key]), key=_plot_order)
    epochs = max((len(history[key]) for key in keys), default=0)
    figure = Figure(figsize=(8, 6))
    axes = figure.subplots()
    for key in keys:
        values = history[key]
        x = startAt + (epochs - len(values)) + np.arange(1, len(values) + 1)
        label = key if key.startswith("val_") else f"train_{key}"
        axes.plot(x, values, marker="o" if len(values) < 2 else None, label=label)
    axes.set_title(title)
    axes.set_xlabel("Epoch #")
    axes.set_ylabel("Loss/Accuracy")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, alpha=0.3)
    if keys:
        axes.legend()
    return figure


def plot_history(history, path, title="Training Loss and Accuracy", startAt=0):
    """Writes the `history_figure` of a training history to an image file.

    Args:
        history: a dict of per-epoch lists or a `keras.callbacks.History`.
        path: image file to write (atomically; folders are created).
        title: figure title.
        startAt: number of epochs before the first entry (for resumed runs).

    Returns:
        `path`.

    Raises:
        ValueError: `history` holds no loss or metric values.
    """
    values = getattr(history, "history", history)
    if not any(values[key] for key in values if key not in NOT_PLOTTED):
        raise ValueError(f"history holds no loss or accuracy values (keys: {sorted(values)}).")
    figure = history_figure(history, title=title, startAt=startAt)
    with atomic_output(path) as temporary:
        figure.savefig(temporary)
    return path


def _plot_order(key):
    base = key[len("val_"):] if key.startswith("val_") else key
    return (base != "loss", base, key.startswith("val_"))
