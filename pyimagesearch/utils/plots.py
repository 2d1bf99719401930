"""Training-curve plots in the book's style, drawn headless and written atomically."""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pyimagesearch.infra.atomic import atomic_output

NOT_PLOTTED = ("learning_rate", "lr")
# losses whose largest value is this many times their median (a spike) are drawn on a log scale
SPIKE_RATIO = 20


def history_figure(history, title="Training Loss and Accuracy", startAt=0):
    """Draws every logged loss and metric, training and validation, against epochs.

    The book's figure (its title, "Epoch #", a legend, train and val curves)
    on two panels sharing the epoch axis, so that one scale never flattens the
    other: losses on top, accuracy and other metrics below. Losses with a spike
    (a value `SPIKE_RATIO` times their median, such as a first-epoch validation
    loss of 50) are drawn on a log scale, and the axis label says so. Curves
    come in the book's order: loss, val_loss, then each metric beside its val_
    twin. A curve shorter than the others is aligned on the last epoch.

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
    panels = [group for group in ([k for k in keys if _is_loss(k)], [k for k in keys if not _is_loss(k)]) if group]
    height = 3 + 3.5 * max(1, len(panels))
    figure = Figure(figsize=(8, height))
    allAxes = figure.subplots(max(1, len(panels)), 1, sharex=True, squeeze=False)[:, 0]
    for (axes, group) in zip(allAxes, panels):
        for key in group:
            values = history[key]
            x = startAt + (epochs - len(values)) + np.arange(1, len(values) + 1)
            label = key if key.startswith("val_") else f"train_{key}"
            axes.plot(x, values, marker="o" if len(values) < 2 else None, label=label)
        if _is_loss(group[0]):
            axes.set_ylabel("Loss")
            if _has_spike([history[key] for key in group]):
                axes.set_yscale("log")
                axes.set_ylabel("Loss (log scale)")
        else:
            axes.set_ylabel("Accuracy" if all("acc" in key for key in group) else "Metric")
        axes.grid(True, alpha=0.3)
        axes.legend()
    allAxes[0].set_title(title)
    allAxes[-1].set_xlabel("Epoch #")
    allAxes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    if not panels:
        allAxes[0].set_ylabel("Loss/Accuracy")
    # fixed margins: tight_layout would cost a third of each per-epoch plot
    figure.subplots_adjust(left=0.1, right=0.97, top=1 - 0.45 / height, bottom=0.55 / height, hspace=0.08)
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


def _is_loss(key):
    return "loss" in key


def _has_spike(curves):
    values = np.concatenate([np.asarray(curve, dtype=float) for curve in curves])
    values = values[np.isfinite(values)]
    return values.size > 0 and values.min() > 0 and values.max() > SPIKE_RATIO * np.median(values)


def _plot_order(key):
    base = key[len("val_"):] if key.startswith("val_") else key
    return (base != "loss", base, key.startswith("val_"))
