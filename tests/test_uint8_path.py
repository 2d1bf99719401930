"""The opt-in uint8 path: uint8 batches to the model, preprocessing in the model's first layers."""

import importlib.util
import json
import os
import pickle
from pathlib import Path

import keras
import numpy as np
import pytest
from datagen import write_noise_hdf5

from pyimagesearch.augmentation import ImageAugmenter
from pyimagesearch.io import HDF5DatasetGenerator
from pyimagesearch.io import sharedbatch
from pyimagesearch.io.sharedbatch import (ReceiveFailed, as_shared_batch, remove_leftovers,
                                          shared_memory_available)
from pyimagesearch.nn.layers import MeanSubtraction, device_augmentation, scaling_layer, uint8_model
from pyimagesearch.preprocessing import (CropPreprocessor, ImageToArrayPreprocessor,
                                         MeanPreprocessor, PatchPreprocessor)
from pyimagesearch.utils import predict_oversampled

MEANS = (124.96, 115.97, 106.13)
BOOK_AUG = dict(rotation_range=20, zoom_range=0.15, width_shift_range=0.2,
                height_shift_range=0.2, shear_range=0.15, horizontal_flip=True)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    """Read-only: 10 rows of 20x20 noise labelled `row % 2`."""
    path = tmp_path_factory.mktemp("uint8") / "images.hdf5"
    write_noise_hdf5(path, (10, 20, 20, 3), 2)
    return path


@pytest.fixture
def means_json(tmp_path):
    path = tmp_path / "mean.json"
    path.write_text(json.dumps({"R": MEANS[0], "G": MEANS[1], "B": MEANS[2]}))
    return path


def small_net(size=16, channels=3):
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((size, size, channels)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ], name="small")


def host_float(images):
    return ImageToArrayPreprocessor().preprocess_batch(MeanPreprocessor(*MEANS).preprocess_batch(images))


def test_uint8_generator_matches_float32_path_through_the_model(db_path, means_json):
    net = small_net()
    model = uint8_model(net, mean=means_json)
    float_gen = HDF5DatasetGenerator(db_path, 4, preprocessors=[
        PatchPreprocessor(16, 16, seed=3), MeanPreprocessor(*MEANS), ImageToArrayPreprocessor()])
    uint8_gen = HDF5DatasetGenerator(db_path, 4, preprocessors=[PatchPreprocessor(16, 16, seed=3)])
    for index in range(len(uint8_gen)):
        (x_float, _), (x_uint8, _) = float_gen[index], uint8_gen[index]
        assert x_uint8.dtype == np.uint8 and x_float.dtype == np.float32
        assert x_uint8.nbytes * 4 == x_float.nbytes
        np.testing.assert_allclose(model.predict(x_uint8, verbose=0),
                                   net.predict(x_float, verbose=0), rtol=0, atol=1e-5)


def test_uint8_model_saves_and_loads_in_safe_mode(tmp_path, means_json):
    model = uint8_model(small_net(), mean=means_json, augmentation=ImageAugmenter(**BOOK_AUG))
    x = np.random.default_rng(1).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert loaded.inputs[0].dtype == "uint8"
    layer = loaded.get_layer("mean_subtraction")
    assert isinstance(layer, MeanSubtraction)
    assert (layer.rMean, layer.gMean, layer.bMean) == pytest.approx(MEANS)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=0, atol=1e-6)


def test_scaling_layer_matches_the_books_division():
    net = small_net()
    x = np.random.default_rng(2).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scaling_layer()(x)),
                               x.astype("float32") / 255.0, rtol=0, atol=1e-7)
    np.testing.assert_allclose(uint8_model(net, scale=True).predict(x, verbose=0),
                               net.predict(x.astype("float32") / 255.0, verbose=0), rtol=0, atol=1e-5)
    # no mean and no scale: the model only casts
    np.testing.assert_allclose(uint8_model(net).predict(x, verbose=0),
                               net.predict(x.astype("float32"), verbose=0), rtol=0, atol=1e-5)


def test_mean_subtraction_channels_first():
    layer = MeanSubtraction(*MEANS, data_format="channels_first")
    x = np.random.default_rng(3).integers(0, 256, (2, 3, 5, 5), dtype=np.uint8)
    expected = ImageToArrayPreprocessor("channels_first").preprocess_batch(
        MeanPreprocessor(*MEANS).preprocess_batch(x.transpose(0, 2, 3, 1)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=0, atol=1e-5)


def test_mean_subtraction_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        MeanSubtraction.from_json(tmp_path / "missing.json")
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"R": 1.0, "G": 2.0}))
    with pytest.raises(ValueError, match=r"lacks the keys \['B'\]"):
        MeanSubtraction.from_json(partial)
    with pytest.raises(ValueError, match="gMean must be a finite number"):
        MeanSubtraction(1.0, float("nan"), 3.0)
    with pytest.raises(ValueError, match="rMean must be a finite number"):
        MeanSubtraction("red", 2.0, 3.0)
    with pytest.raises(ValueError, match="bMean must be a finite number"):
        MeanSubtraction(1.0, 2.0, [3.0, 4.0])
    with pytest.raises(ValueError, match="data_format"):
        MeanSubtraction(1.0, 2.0, 3.0, data_format="channels_middle")
    with pytest.raises(ValueError, match="3-channel BGR"):
        MeanSubtraction(1.0, 2.0, 3.0)(np.zeros((1, 4, 4, 1), np.uint8))


def test_uint8_model_bad_input():
    with pytest.raises(ValueError, match="one input"):
        uint8_model("not a model")
    with pytest.raises(ValueError, match="mean must be"):
        uint8_model(small_net(), mean=(1.0, 2.0))


def test_host_uint8_path_keeps_uint8_through_every_step(db_path):
    aug = ImageAugmenter(**BOOK_AUG, seed=0)
    gen = HDF5DatasetGenerator(db_path, 4, preprocessors=[PatchPreprocessor(16, 16, seed=0)], aug=aug)
    assert gen[0][0].dtype == np.uint8 and gen[0][0].shape == (4, 16, 16, 3)
    images = np.random.default_rng(4).integers(0, 256, (3, 20, 20, 3), dtype=np.uint8)
    flipped = ImageAugmenter(horizontal_flip=True, seed=0).augment_batch(images)
    assert flipped.dtype == np.uint8
    assert all((f == i).all() or (f == i[:, ::-1]).all() for (f, i) in zip(flipped, images))
    assert CropPreprocessor(16, 16).preprocess_batch(images).dtype == np.uint8
    gray = ImageToArrayPreprocessor(dtype=None).preprocess_batch(images[..., 0])
    assert gray.dtype == np.uint8 and gray.shape == (3, 20, 20, 1)
    with pytest.raises(ValueError, match="dtype must be"):
        ImageToArrayPreprocessor(dtype="no such type")


@pytest.mark.parametrize("size", [20, 21])
def test_predict_oversampled_uint8_path(size):
    """Even margins crop exactly; an odd margin resizes the centre crop, rounded to uint8."""
    net = small_net()
    model = uint8_model(net, mean=MEANS)
    images = np.random.default_rng(5).integers(0, 256, (3, size, size, 3), dtype=np.uint8)
    cropper = CropPreprocessor(16, 16)
    ours = predict_oversampled(model, images, cropper, batch_size=20)
    book = predict_oversampled(net, images, cropper, preprocessors=[
        MeanPreprocessor(*MEANS), ImageToArrayPreprocessor()], batch_size=20)
    crops_uint8 = cropper.preprocess_batch(images).astype("float32")
    crops_float = cropper.preprocess_batch(images.astype("float32"))
    if size % 2 == 0:
        np.testing.assert_array_equal(crops_uint8, crops_float)
        np.testing.assert_allclose(ours, book, rtol=0, atol=1e-5)
    else:
        assert np.abs(crops_uint8 - crops_float).max() <= 0.5 + 1e-4
        np.testing.assert_allclose(ours, book, rtol=0, atol=1e-2)


def test_predict_oversampled_refuses_float_crops_for_a_uint8_model():
    model = uint8_model(small_net(), mean=MEANS)
    images = np.random.default_rng(8).integers(0, 256, (2, 20, 20, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="model takes uint8 images"):
        predict_oversampled(model, images, CropPreprocessor(16, 16),
                            preprocessors=[MeanPreprocessor(*MEANS), ImageToArrayPreprocessor()])


def test_device_augmentation_maps_imageaugmenter_parameters():
    layers = device_augmentation(ImageAugmenter(**BOOK_AUG, fill_mode="reflect"), seed=0)
    by_type = {type(layer).__name__: layer for layer in layers.layers}
    assert list(by_type) == ["RandomRotation", "RandomTranslation", "RandomZoom",
                             "RandomShear", "RandomFlip"]
    assert by_type["RandomRotation"].factor == pytest.approx((-20 / 360, 20 / 360))
    assert by_type["RandomTranslation"].width_factor == pytest.approx(0.2)
    assert by_type["RandomZoom"].height_factor == pytest.approx((-0.15, 0.15))
    assert by_type["RandomShear"].x_factor == pytest.approx((0.0, np.tan(np.radians(0.15))))
    assert all(getattr(layer, "fill_mode", "reflect") == "reflect" for layer in layers.layers)
    x = np.random.default_rng(6).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layers(x, training=False)), x)
    trained = keras.ops.convert_to_numpy(layers(x, training=True))
    assert trained.shape == x.shape and not np.allclose(trained, x)
    assert len(device_augmentation(ImageAugmenter()).layers) == 0
    pixels = device_augmentation(ImageAugmenter(width_shift_range=4), image_size=(16, 32))
    assert pixels.layers[0].width_factor == pytest.approx(4 / 32)


def test_device_augmentation_bad_input():
    with pytest.raises(ValueError, match="width_shift_range as a list"):
        device_augmentation(ImageAugmenter(width_shift_range=[-2, 0, 2]))
    with pytest.raises(ValueError, match="in pixels; pass image_size"):
        device_augmentation(ImageAugmenter(height_shift_range=3))
    with pytest.raises(ValueError, match="above 45 degrees"):
        device_augmentation(ImageAugmenter(shear_range=50))


def test_gpu_check_tiny_mode_prints_the_table(capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    assert gpu_check.main(["--tiny", "--workers", "1"]) == 0
    assert keras.mixed_precision.global_policy().name == "float32"
    output = capsys.readouterr().out
    rows = [line for line in output.splitlines() if line.startswith("| shallownet")]
    assert len(rows) == 2, output
    for (row, precision) in zip(rows, ("off", "on")):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1:4] == ["16x16x3", "4", precision]
        assert float(cells[4].replace(",", "")) > 0 and float(cells[5].replace(",", "")) > 0
        assert cells[6].endswith("%")


def test_mean_preprocessor_subtracts_from_non_contiguous_images():
    image = np.random.default_rng(7).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    mirrored = image[:, ::-1]
    expected = mirrored.astype("float32") - np.array(MEANS[::-1], "float32")
    mean = MeanPreprocessor(*MEANS)
    np.testing.assert_allclose(mean.preprocess(mirrored), expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(mean.preprocess_batch(image.transpose(1, 0, 2)[np.newaxis]),
                               (image.transpose(1, 0, 2).astype("float32")
                                - np.array(MEANS[::-1], "float32"))[np.newaxis], rtol=0, atol=1e-5)


def _shared_files(pid):
    return sharedbatch.segments(pid)


@pytest.mark.skipif(not shared_memory_available(), reason="needs /dev/shm")
def test_shared_batch_pickles_through_shared_memory():
    rng = np.random.default_rng(9)
    for array in (rng.integers(0, 256, (3, 5, 4, 3), dtype=np.uint8),
                  rng.random((4, 6)).astype("float32").T,  # not contiguous
                  np.zeros((0, 4, 4, 3), np.uint8)):
        data = pickle.dumps(as_shared_batch(array, os.getpid()))
        assert len(data) < 200 and len(_shared_files(os.getpid())) == 1
        restored = pickle.loads(data)
        assert type(restored) is np.ndarray and restored.flags.writeable
        np.testing.assert_array_equal(restored, array)
        assert restored.dtype == array.dtype and _shared_files(os.getpid()) == []
    pickle.dumps(as_shared_batch(np.ones((2, 2), np.uint8), os.getpid()))  # never received
    assert len(_shared_files(os.getpid())) == 1
    remove_leftovers(os.getpid())
    assert _shared_files(os.getpid()) == []


RECEIVED = []
ATTACH = sharedbatch.attach_shared_batch


def counting_attach(path, shape, dtype):
    """`attach_shared_batch` that records the shapes the training process receives."""
    RECEIVED.append(tuple(shape))
    return ATTACH(path, shape, dtype)


def vanishing_attach(path, shape, dtype):
    """`attach_shared_batch` after the batch's file has disappeared."""
    os.unlink(path)
    return ATTACH(path, shape, dtype)


@pytest.mark.skipif(not shared_memory_available(), reason="needs /dev/shm")
@pytest.mark.timeout(120)
def test_shared_memory_workers_hand_back_the_same_batches(db_path, monkeypatch):
    # workers pickle batches as a call of this module-level function, which the
    # training process runs to receive them
    monkeypatch.setattr(sharedbatch, "attach_shared_batch", counting_attach)
    RECEIVED.clear()
    model = keras.Sequential([keras.Input((20, 20, 3)), keras.layers.Flatten()])
    expected = model.predict(HDF5DatasetGenerator(db_path, 3), verbose=0)
    gen = HDF5DatasetGenerator(db_path, 3, workers=2, use_multiprocessing=True, shared_memory=True)
    assert type(gen[0][0]) is np.ndarray  # in the training process: a plain array
    RECEIVED.clear()  # gen[0] came from a worker too
    np.testing.assert_array_equal(model.predict(gen, verbose=0), expected)
    # every batch, and the ones Keras peeks at for the output signature, came from a worker
    assert set(RECEIVED) == {(3, 20, 20, 3), (1, 20, 20, 3)} and len(RECEIVED) >= 4
    assert _shared_files(os.getpid()) == []


def test_shared_memory_needs_process_workers(db_path):
    with pytest.raises(ValueError, match="shared_memory=True needs use_multiprocessing=True"):
        HDF5DatasetGenerator(db_path, 3, workers=2, shared_memory=True)


@pytest.mark.skipif(not shared_memory_available(), reason="needs /dev/shm")
@pytest.mark.timeout(120)
def test_a_lost_shared_batch_stops_predict_instead_of_hanging(db_path, monkeypatch):
    lost = ATTACH("/dev/shm/pyimagesearch-batch-no-such-file", (1,), "|u1")
    assert isinstance(lost, ReceiveFailed) and "could not be received" in repr(lost)
    monkeypatch.setattr(sharedbatch, "attach_shared_batch", vanishing_attach)
    model = keras.Sequential([keras.Input((20, 20, 3)), keras.layers.Flatten()])
    gen = HDF5DatasetGenerator(db_path, 3, workers=2, use_multiprocessing=True, shared_memory=True)
    with pytest.raises(Exception, match="could not be received"):
        model.predict(gen, verbose=0)
    assert _shared_files(os.getpid()) == []
