"""Training-curve plots in the book's style, written headless and atomically."""

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from pyimagesearch.utils.atomic import atomic_output  # noqa: E402

_CURVES = ("loss", "val_loss", "accuracy", "val_accuracy")


def plot_history(history, path, title="Training Loss and Accuracy", startAt=0):
    """Plots loss and accuracy curves (training and validation) against epochs.

    Args:
        history: a dict of per-epoch lists (`keras.callbacks.History.history`,
            the `TrainingMonitor` JSON) or a `History` object.
        path: PNG file to write (atomically; folders are created).
        title: figure title.
        startAt: epoch number of the first entry (for resumed runs).

    Returns:
        `path`.

    Raises:
        ValueError: `history` holds none of loss/accuracy curves.
    """
    history = getattr(history, "history", history)
    curves = [key for key in _CURVES if history.get(key)]
    if not curves:
        raise ValueError(f"history holds no loss or accuracy values (keys: {sorted(history)}).")
    figure = Figure(figsize=(8, 6))
    axes = figure.subplots()
    for key in curves:
        values = history[key]
        epochs = range(startAt, startAt + len(values))
        axes.plot(epochs, values, label=key if key.startswith("val_") else f"train_{key}")
    axes.set_title(title)
    axes.set_xlabel("Epoch #")
    axes.set_ylabel("Loss/Accuracy")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, alpha=0.3)
    axes.legend()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png")
    return path
