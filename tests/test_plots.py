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
