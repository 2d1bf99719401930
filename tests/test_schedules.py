import numpy as np
import pytest

from pyimagesearch.utils import PolynomialDecay, StepDecay


def _poly_decay(epoch, maxEpochs, baseLR, power):
    """The book's poly_decay (chapters 11 and 12)."""
    return baseLR * (1 - (epoch / float(maxEpochs))) ** power


def _step_decay(epoch, initAlpha, factor, dropEvery):
    """The Starter Bundle's step_decay."""
    return initAlpha * (factor ** np.floor((1 + epoch) / dropEvery))


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_polynomial_decay_matches_the_book(power):
    schedule = PolynomialDecay(maxEpochs=70, initAlpha=5e-3, power=power)
    for epoch in range(70):
        assert schedule(epoch) == pytest.approx(_poly_decay(epoch, 70, 5e-3, power))
    assert schedule(70) == 0.0 and schedule(90) == 0.0


def test_step_decay_matches_the_formula():
    schedule = StepDecay(initAlpha=0.01, factor=0.25, dropEvery=5)
    for epoch in range(40):
        assert schedule(epoch) == pytest.approx(_step_decay(epoch, 0.01, 0.25, 5))
    assert schedule(3) == 0.01 and schedule(4) == pytest.approx(0.0025)


def test_schedules_drive_keras_learning_rate_scheduler():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")
    x = np.zeros((4, 2), "float32")
    history = model.fit(x, np.zeros(4), epochs=3, verbose=0, callbacks=[
        keras.callbacks.LearningRateScheduler(PolynomialDecay(maxEpochs=4, initAlpha=0.1))])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.075, 0.05])


def test_plot_writes_an_image(tmp_path):
    path = tmp_path / "lr.png"
    assert StepDecay().plot(20, path) == str(path)
    assert path.read_bytes()[:4] == b"\x89PNG"
    PolynomialDecay(10).plot(range(0, 10, 2), tmp_path / "poly.png", title="Poly")
    assert (tmp_path / "poly.png").exists()
    with pytest.raises(ValueError, match="epochs"):
        StepDecay().plot(0, tmp_path / "x.png")
    with pytest.raises(ValueError, match="epochs"):
        StepDecay().plot([], tmp_path / "x.png")


@pytest.mark.parametrize("make, name", [
    (lambda: PolynomialDecay(maxEpochs=0), "maxEpochs"),
    (lambda: PolynomialDecay(maxEpochs=2.5), "maxEpochs"),
    (lambda: PolynomialDecay(initAlpha=0), "initAlpha"),
    (lambda: PolynomialDecay(power=-1), "power"),
    (lambda: StepDecay(factor=0), "factor"),
    (lambda: StepDecay(dropEvery=0), "dropEvery"),
    (lambda: StepDecay(initAlpha="0.1"), "initAlpha"),
    (lambda: StepDecay()(-1), "epoch"),
    (lambda: PolynomialDecay()(None), "epoch"),
    # NaN compared false with the old `< 0` tests and gave a NaN learning rate
    (lambda: PolynomialDecay(power=float("nan")), "power"),
    (lambda: StepDecay()(float("nan")), "epoch"),
])
def test_bad_arguments(make, name):
    with pytest.raises(ValueError, match=name):
        make()
