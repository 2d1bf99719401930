import cv2
import numpy as np
import pytest

from pyimagesearch.preprocessing import (
    AspectAwarePreprocessor,
    CropPreprocessor,
    ImageToArrayPreprocessor,
    MeanPreprocessor,
    PatchPreprocessor,
    SimplePreprocessor,
)


@pytest.fixture
def image():
    return np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)


def test_simple_resizes_ignoring_aspect(image):
    out = SimplePreprocessor(32, 16).preprocess(image)
    assert out.shape == (16, 32, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, cv2.resize(image, (32, 16), interpolation=cv2.INTER_AREA))


def test_simple_keeps_single_channel_axis():
    gray = np.zeros((10, 10, 1), np.uint8)
    assert SimplePreprocessor(4, 4).preprocess(gray).shape == (4, 4, 1)
    assert SimplePreprocessor(4, 4).preprocess(gray[:, :, 0]).shape == (4, 4)


def test_simple_batch_matches_per_image(image):
    batch = np.stack([image, image[::-1]])
    sp = SimplePreprocessor(20, 20)
    out = sp.preprocess_batch(batch)
    assert out.shape == (2, 20, 20, 3)
    np.testing.assert_array_equal(out[1], sp.preprocess(batch[1]))


@pytest.mark.parametrize("data_format, shape", [("channels_last", (40, 60, 3)), ("channels_first", (3, 40, 60))])
def test_image_to_array_formats(image, data_format, shape):
    out = ImageToArrayPreprocessor(data_format).preprocess(image)
    assert out.shape == shape and out.dtype == np.float32
    if data_format == "channels_first":
        np.testing.assert_array_equal(out[2], image[:, :, 2])


def test_image_to_array_adds_channel_axis_and_batches(image):
    pre = ImageToArrayPreprocessor("channels_last")
    assert pre.preprocess(image[:, :, 0]).shape == (40, 60, 1)
    batch = pre.preprocess_batch(np.stack([image[:, :, 0]] * 3))
    assert batch.shape == (3, 40, 60, 1) and batch.dtype == np.float32
    assert ImageToArrayPreprocessor("channels_first").preprocess_batch(np.stack([image] * 2)).shape == (2, 3, 40, 60)


def test_image_to_array_follows_keras_config(image):
    assert ImageToArrayPreprocessor().preprocess(image).shape == (40, 60, 3)


def test_aspect_aware_keeps_centre():
    # a wide image whose centre column band is marked
    image = np.zeros((100, 300, 3), np.uint8)
    image[:, 100:200] = 255
    out = AspectAwarePreprocessor(50, 50).preprocess(image)
    assert out.shape == (50, 50, 3)
    assert out.min() == 255  # the crop kept the centre only


@pytest.mark.parametrize(
    "shape, size",
    [((5, 3, 3), (64, 64)), ((1000, 7), (32, 32)), ((7, 1000, 1), (20, 10)), ((48, 64, 3), (30, 60)), ((64, 48, 3), (60, 30))],
)
def test_aspect_aware_exact_size(shape, size):
    image = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    (w, h) = size
    out = AspectAwarePreprocessor(w, h).preprocess(image)
    assert out.shape == (h, w) + shape[2:]
    assert out.dtype == np.uint8


def test_aspect_aware_batch(image):
    out = AspectAwarePreprocessor(32, 32).preprocess_batch(np.stack([image] * 3))
    assert out.shape == (3, 32, 32, 3)


def test_mean_subtracts_bgr(image):
    pre = MeanPreprocessor(rMean=10.0, gMean=20.0, bMean=30.0)
    out = pre.preprocess(image)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, :, 0], image[:, :, 0] - 30.0)
    np.testing.assert_allclose(out[:, :, 2], image[:, :, 2] - 10.0)
    np.testing.assert_allclose(pre.preprocess_batch(np.stack([image] * 2))[1], out)


def test_mean_from_json(tmp_path, image):
    path = tmp_path / "means.json"
    path.write_text('{"R": 1.0, "G": 2.0, "B": 3.0}')
    pre = MeanPreprocessor.from_json(path)
    assert (pre.rMean, pre.gMean, pre.bMean) == (1.0, 2.0, 3.0)
    path.write_text('{"R": 1.0}')
    with pytest.raises(ValueError, match="lacks the keys"):
        MeanPreprocessor.from_json(path)


def test_mean_rejects_wrong_channels_and_means(image):
    with pytest.raises(ValueError, match="3-channel"):
        MeanPreprocessor(1, 2, 3).preprocess(image[:, :, :2])
    with pytest.raises(ValueError, match="3-channel"):
        MeanPreprocessor(1, 2, 3).preprocess(image[:, :, 0])
    with pytest.raises(ValueError, match="rMean must be a scalar"):
        MeanPreprocessor([1, 2], 2, 3)


def test_patch_reproducible_and_inside(image):
    a = PatchPreprocessor(20, 10, seed=7).preprocess_batch(np.stack([image] * 5))
    b = PatchPreprocessor(20, 10, seed=7).preprocess_batch(np.stack([image] * 5))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 10, 20, 3)
    patch = PatchPreprocessor(20, 10, seed=3).preprocess(image)
    windows = np.lib.stride_tricks.sliding_window_view(image, (10, 20, 3))[:, :, 0]
    assert np.any(np.all(windows == patch, axis=(2, 3, 4)))


def test_patch_reaches_every_position_including_last():
    image = np.arange(3 * 3, dtype=np.uint8).reshape(3, 3)
    pre = PatchPreprocessor(2, 2, seed=0)
    corners = {int(pre.preprocess(image)[0, 0]) for _ in range(200)}
    assert corners == {0, 1, 3, 4}


def test_patch_same_size_is_whole_image(image):
    np.testing.assert_array_equal(PatchPreprocessor(60, 40).preprocess(image), image)


def test_crop_ten_crops_book_order(image):
    crops = CropPreprocessor(32, 24).preprocess(image)
    assert crops.shape == (10, 24, 32, 3) and crops.dtype == np.uint8
    np.testing.assert_array_equal(crops[0], image[:24, :32])
    np.testing.assert_array_equal(crops[1], image[:24, -32:])
    np.testing.assert_array_equal(crops[2], image[-24:, -32:])
    np.testing.assert_array_equal(crops[3], image[-24:, :32])
    np.testing.assert_array_equal(crops[4], image[8:32, 14:46])
    for i in range(5):
        np.testing.assert_array_equal(crops[5 + i], crops[i][:, ::-1])


def test_crop_odd_margin_centre_resized(image):
    crops = CropPreprocessor(31, 23).preprocess(image)
    assert crops.shape == (10, 23, 31, 3)


def test_crop_without_mirrors_and_batch(image):
    assert CropPreprocessor(32, 32, horiz=False).preprocess(image).shape == (5, 32, 32, 3)
    pre = CropPreprocessor(31, 23)
    batch = pre.preprocess_batch(np.stack([image, image[::-1]]))
    assert batch.shape == (2, 10, 23, 31, 3)
    np.testing.assert_array_equal(batch[1], pre.preprocess(image[::-1]))


def test_crop_grayscale(image):
    assert CropPreprocessor(16, 16).preprocess(image[:, :, 0]).shape == (10, 16, 16)


@pytest.mark.parametrize("cls", [PatchPreprocessor, CropPreprocessor])
def test_crop_larger_than_image_names_sizes(cls, image):
    with pytest.raises(ValueError, match="61x10 .* 60x40"):
        cls(61, 10).preprocess(image)
    with pytest.raises(ValueError, match="61x10 .* 60x40"):
        cls(61, 10).preprocess_batch(np.stack([image]))


@pytest.mark.parametrize(
    "pre",
    [SimplePreprocessor(8, 8), AspectAwarePreprocessor(8, 8), ImageToArrayPreprocessor(), MeanPreprocessor(0, 0, 0),
     PatchPreprocessor(2, 2), CropPreprocessor(2, 2)],
)
def test_non_image_rejected(pre):
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        pre.preprocess(np.zeros(5))
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        pre.preprocess_batch(np.zeros(5))


@pytest.mark.parametrize("cls", [SimplePreprocessor, AspectAwarePreprocessor, PatchPreprocessor, CropPreprocessor])
@pytest.mark.parametrize("width, height", [(0, 5), (5, -1), (2.5, 3)])
def test_bad_sizes_rejected(cls, width, height):
    with pytest.raises(ValueError, match="must be a positive integer"):
        cls(width, height)


def test_bad_data_format():
    with pytest.raises(ValueError, match="dataFormat"):
        ImageToArrayPreprocessor("channels_middle")


def test_chaining_preserves_integer_until_float_step(image):
    pre = [AspectAwarePreprocessor(32, 32), PatchPreprocessor(28, 28, seed=0)]
    for p in pre:
        image = p.preprocess(image)
    assert image.dtype == np.uint8
    assert ImageToArrayPreprocessor().preprocess(image).dtype == np.float32


def test_apply_preprocessors_batch_path_and_per_image_path(image):
    from pyimagesearch.preprocessing import apply_preprocessors

    class BookOnly:  # the book's protocol: preprocess(image) only
        def preprocess(self, one):
            return one[::2, ::2]

    batch = np.stack([image, image[::-1]])
    mean = MeanPreprocessor(1, 2, 3)
    batched = apply_preprocessors(batch, [mean, ImageToArrayPreprocessor("channels_first")])
    assert batched.shape == (2, 3, 40, 60) and batched.dtype == np.float32
    mixed = apply_preprocessors(batch, [BookOnly(), mean])
    np.testing.assert_array_equal(mixed[1], mean.preprocess(image[::-1][::2, ::2]))
    assert apply_preprocessors(batch, []) is not None and apply_preprocessors(batch, []).shape == batch.shape


def _books_aspect_aware(image, width, height, inter=cv2.INTER_AREA):
    """The book's AspectAwarePreprocessor.preprocess, transcribed (imutils.resize included)."""
    import imutils

    (h, w) = image.shape[:2]
    dW = 0
    dH = 0
    if w < h:
        image = imutils.resize(image, width=width, inter=inter)
        dH = int((image.shape[0] - height) / 2.0)
    else:
        image = imutils.resize(image, height=height, inter=inter)
        dW = int((image.shape[1] - width) / 2.0)
    (h, w) = image.shape[:2]
    image = image[dH:h - dH, dW:w - dW]
    return cv2.resize(image, (width, height), interpolation=inter)


@pytest.mark.parametrize("width, height", [(32, 32), (64, 64), (224, 224), (227, 227), (256, 256),
                                           (64, 32), (45, 99)])
def test_aspect_aware_gives_the_books_pixels(width, height):
    rng = np.random.default_rng(width * 1000 + height)
    shapes = [(375, 500), (500, 375), (333, 257), (257, 333), (101, 101), (61, 419), (419, 61)]
    for (h, w) in shapes:
        images = rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8)
        pre = AspectAwarePreprocessor(width, height)
        batch = pre.preprocess_batch(images)
        for (image, out) in zip(images, batch):
            expected = _books_aspect_aware(image, width, height)
            assert pre.preprocess(image).shape == expected.shape == out.shape
            assert np.abs(pre.preprocess(image).astype(int) - expected).max() == 0, (h, w)
            assert np.abs(out.astype(int) - expected).max() == 0, (h, w)
    linear = AspectAwarePreprocessor(width, height, inter=cv2.INTER_LINEAR)
    image = rng.integers(0, 256, (377, 291), dtype=np.uint8)
    np.testing.assert_array_equal(linear.preprocess(image),
                                  _books_aspect_aware(image, width, height, cv2.INTER_LINEAR))


@pytest.mark.parametrize("text, shown", [('{"R": NaN, "G": 2.0, "B": 3.0}', "nan"),
                                         ('{"R": 1.0, "G": Infinity, "B": 3.0}', "inf"),
                                         ('{"R": 1.0, "G": 2.0, "B": -1e999}', "-inf"),
                                         ('{"R": 1.0, "G": 2.0, "B": "3"}', "'3'"),
                                         # no 8-bit image has these means (1e39 overflows float32)
                                         ('{"R": 1e39, "G": 2.0, "B": 3.0}', "1e+39"),
                                         ('{"R": 1.0, "G": 255.5, "B": 3.0}', "255.5"),
                                         ('{"R": 1.0, "G": 2.0, "B": -0.5}', "-0.5")])
def test_mean_json_holding_nan_or_infinity_is_refused_naming_the_file(tmp_path, text, shown):
    from pyimagesearch.nn.layers import MeanSubtraction

    path = tmp_path / "mean.json"
    path.write_text(text)
    for reader in (MeanPreprocessor.from_json, MeanSubtraction.from_json):
        with pytest.raises(ValueError, match=r"means file '.*mean\.json': mean [RGB] must be a finite number") as caught:
            reader(path)
        assert f"got {shown};" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="gMean must be a finite number"):
        MeanPreprocessor(1.0, float("nan"), 3.0)
    with pytest.raises(ValueError, match=r"rMean must be a finite number in \[0, 255\].*got 1e\+39"):
        MeanPreprocessor(1e39, 2.0, 3.0)
    with pytest.raises(ValueError, match=r"bMean must be a finite number in \[0, 255\]"):
        MeanSubtraction(1.0, 2.0, 300.0)


def test_mean_json_that_is_not_json_names_the_file(tmp_path):
    path = tmp_path / "mean.json"
    for text in ('{"R": 1.0,', "[1, 2, 3]"):
        path.write_text(text)
        with pytest.raises(ValueError, match=r"means file '.*mean\.json'"):
            MeanPreprocessor.from_json(path)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        MeanPreprocessor.from_json(tmp_path / "missing.json")
