"""Two behaviours a mutation audit found untested: each test fails when its line is mutated."""

import os

import keras
import numpy as np
import pytest

from pyimagesearch.nn.layers import MeanSubtraction
from pyimagesearch.infra import atomic


def test_atomic_output_whose_body_raises_leaves_no_temporary_and_the_old_file(tmp_path):
    target = tmp_path / "history.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="body failed"):
        with atomic.atomic_output(target) as temporary:
            with open(temporary, "w") as handle:
                handle.write("half")
            raise RuntimeError("body failed")
    assert os.listdir(tmp_path) == ["history.json"] and target.read_text() == "old"


@pytest.fixture
def channels_last_default():
    """Keras' default format set to channels_last, so a lost channels_first shows."""
    before = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_last")
    yield
    keras.config.set_image_data_format(before)


def test_channels_first_mean_subtraction_keeps_its_data_format_through_config_and_save(
        tmp_path, channels_last_default):
    layer = MeanSubtraction(124.0, 117.0, 104.0, data_format="channels_first")
    assert MeanSubtraction.from_config(layer.get_config()).data_format == "channels_first"
    inputs = keras.Input((3, 5, 5))
    model = keras.Model(inputs, MeanSubtraction(124.0, 117.0, 104.0, data_format="channels_first",
                                                name="means")(inputs))
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 5, 5)).astype("float32")
    path = tmp_path / "means.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_layer("means").data_format == "channels_first"
    expected = x - np.array([104.0, 117.0, 124.0], "float32").reshape(1, 3, 1, 1)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=0, atol=1e-4)
