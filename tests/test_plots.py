import pytest

from pyimagesearch.utils.plots import plot_history


def test_plot_history_writes_png(tmp_path):
    path = tmp_path / "plots" / "curve.png"
    history = {"loss": [1.0, 0.5], "val_loss": [1.2, 0.8], "accuracy": [0.4, 0.7], "learning_rate": [0.1, 0.1]}
    assert plot_history(history, path, startAt=3) == path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["curve.png"]  # no temporary left


def test_plot_history_accepts_history_object(tmp_path):
    class History:
        history = {"loss": [1.0]}

    plot_history(History(), tmp_path / "h.png")
    assert (tmp_path / "h.png").exists()


def test_plot_history_without_curves(tmp_path):
    with pytest.raises(ValueError, match="no loss or accuracy"):
        plot_history({"learning_rate": [0.1]}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def _spiky_history(epochs=25):
    import numpy as np

    steps = np.arange(epochs)
    return {
        "loss": list(2.4 * np.exp(-steps / 3) + 0.25),
        "val_loss": [52.5, 76.5, 53.0, 28.5] + list(0.9 * np.exp(-steps[4:] / 4) + 0.12),
        "accuracy": list(0.9 - 0.55 * np.exp(-steps / 3)),
        "val_accuracy": [0.28, 0.17, 0.17, 0.16] + list(0.96 - 0.5 * np.exp(-steps[4:] / 3)),
        "learning_rate": list(0.01 * (1 - steps / epochs)),
    }


def test_accuracy_stays_readable_with_a_loss_spike():
    from pyimagesearch.utils import history_figure

    figure = history_figure(_spiky_history(), title="Training Loss and Accuracy [Epoch 25]")
    (lossAxes, accuracyAxes) = figure.axes
    assert lossAxes.get_title() == "Training Loss and Accuracy [Epoch 25]"
    assert accuracyAxes.get_xlabel() == "Epoch #"
    assert [line.get_label() for line in lossAxes.get_lines()] == ["train_loss", "val_loss"]
    assert [line.get_label() for line in accuracyAxes.get_lines()] == ["train_accuracy", "val_accuracy"]
    assert lossAxes.get_legend() is not None and accuracyAxes.get_legend() is not None
    (bottom, top) = accuracyAxes.get_ylim()
    for line in accuracyAxes.get_lines():
        values = line.get_ydata()
        assert (values.max() - values.min()) / (top - bottom) > 0.6  # spans most of its axis
    assert lossAxes.get_yscale() == "log" and "log" in lossAxes.get_ylabel()


def test_smooth_losses_keep_a_linear_axis():
    from pyimagesearch.utils import history_figure

    history = {"loss": [2.3, 1.2, 0.8, 0.5, 0.4], "val_loss": [2.0, 1.1, 0.9, 0.7, 0.6]}
    figure = history_figure(history)
    assert len(figure.axes) == 1
    assert figure.axes[0].get_yscale() == "linear" and figure.axes[0].get_xlabel() == "Epoch #"


def test_spiky_plot_written_for_a_look(tmp_path):
    path = plot_history(_spiky_history(), tmp_path / "spike.png", title="Training Loss and Accuracy [Epoch 25]")
    assert path.read_bytes()[:4] == b"\x89PNG"
