import os
import re

import numpy as np
import pytest

from pyimagesearch.augmentation import ImageAugmenter

BOOK = dict(rotation_range=18, zoom_range=0.15, width_shift_range=0.2,
            height_shift_range=0.2, shear_range=0.15, horizontal_flip=True,
            fill_mode="nearest")


def _images(n=8, size=24, channels=3, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, size, size, channels)) * 255).astype(dtype)


def _marker(size=33, at=(16, 16)):
    image = np.zeros((size, size), np.float32)
    image[at] = 1.0
    return image


def _position(image):
    (rows, cols) = np.nonzero(image > 1e-6)
    weights = image[rows, cols]
    return (np.average(rows, weights=weights), np.average(cols, weights=weights))


def test_same_seed_same_output_and_different_seed_differs():
    x = _images()
    a = ImageAugmenter(**BOOK, seed=3).augment_batch(x)
    b = ImageAugmenter(**BOOK, seed=3).augment_batch(x)
    c = ImageAugmenter(**BOOK, seed=4).augment_batch(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, x)


def test_random_transform_equals_apply_of_drawn_parameters():
    aug = ImageAugmenter(**BOOK)
    image = _images(1)[0]
    params = aug.get_random_transform(image.shape, seed=11)
    assert set(params) >= {"theta", "tx", "ty", "shear", "zx", "zy", "flip_horizontal"}
    np.testing.assert_array_equal(aug.random_transform(image, seed=11),
                                  aug.apply_transform(image, params))


def test_flip_only_gives_the_image_or_its_mirror_and_both_occur():
    x = _images(40, size=9)
    out = ImageAugmenter(horizontal_flip=True, seed=0).augment_batch(x)
    same = np.all(out == x, axis=(1, 2, 3))
    mirrored = np.all(out == x[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored)
    assert same.any() and mirrored.any()
    aug = ImageAugmenter(horizontal_flip=True)
    image = x[0].copy()
    flipped = aug.apply_transform(image, {"flip_horizontal": True})
    np.testing.assert_array_equal(flipped, x[0][:, ::-1])
    flipped[...] = 0
    np.testing.assert_array_equal(image, x[0])  # a copy, not a view of the input


def test_vertical_flip_mirrors_top_bottom():
    x = _images(40, size=9)
    out = ImageAugmenter(vertical_flip=True, seed=0).augment_batch(x)
    mirrored = np.all(out == x[:, ::-1], axis=(1, 2, 3))
    assert np.all(np.all(out == x, axis=(1, 2, 3)) | mirrored) and mirrored.any()


@pytest.mark.parametrize("shift, limit", [(4, 3), (0.1, 3.3)])
def test_width_shift_moves_marker_horizontally_within_range(shift, limit):
    x = np.repeat(_marker()[np.newaxis], 30, axis=0)
    out = ImageAugmenter(width_shift_range=shift, fill_mode="constant", seed=1).augment_batch(x)
    moves = np.array([_position(image) for image in out]) - 16
    np.testing.assert_allclose(moves[:, 0], 0, atol=1e-6)
    assert np.abs(moves[:, 1]).max() <= limit + 1e-6
    assert np.abs(moves[:, 1]).max() > 1


def test_height_shift_moves_marker_vertically():
    x = np.repeat(_marker()[np.newaxis], 30, axis=0)
    out = ImageAugmenter(height_shift_range=5, fill_mode="constant", seed=1).augment_batch(x)
    moves = np.array([_position(image) for image in out]) - 16
    np.testing.assert_allclose(moves[:, 1], 0, atol=1e-6)
    assert 1 < np.abs(moves[:, 0]).max() <= 4 + 1e-6


def test_rotation_keeps_radius_and_turns_within_range():
    x = np.repeat(_marker(at=(16, 28))[np.newaxis], 30, axis=0)
    out = ImageAugmenter(rotation_range=20, fill_mode="constant", seed=2).augment_batch(x)
    positions = np.array([_position(image) for image in out]) - 16
    radius = np.hypot(positions[:, 0], positions[:, 1])
    np.testing.assert_allclose(radius, 12, atol=0.3)
    angles = np.degrees(np.arctan2(positions[:, 0], positions[:, 1]))
    assert np.abs(angles).max() <= 20 + 1.5
    assert np.abs(angles).max() > 5


def test_zoom_above_one_zooms_out():
    x = _marker(at=(16, 26))[np.newaxis]
    aug = ImageAugmenter(fill_mode="constant")
    out = aug.apply_transform(x[0], {"zx": 2.0, "zy": 2.0})
    (row, col) = _position(out)
    assert row == pytest.approx(16) and col == pytest.approx(21)


@pytest.mark.parametrize("mode, expected", [
    ("nearest", lambda row: [row[-1]] * 3),
    ("reflect", lambda row: [row[-1], row[-2], row[-3]]),
    ("wrap", lambda row: [row[0], row[1], row[2]]),
    ("constant", lambda row: [9.0] * 3),
])
def test_fill_modes(mode, expected):
    image = np.tile(np.arange(10, dtype=np.float32) * 10, (6, 1))
    out = ImageAugmenter(fill_mode=mode, cval=9).apply_transform(image, {"tx": 3})
    np.testing.assert_array_equal(out[:, :7], image[:, 3:])
    for row in out:
        np.testing.assert_allclose(row[7:], expected(image[0]))


@pytest.mark.parametrize("shape, dtype", [
    ((4, 20, 20, 3), np.uint8), ((4, 20, 20), np.uint8), ((4, 20, 20, 1), np.float32),
    ((4, 20, 20, 6), np.uint16), ((4, 20, 20, 2), np.int32), ((4, 20, 20, 3), np.float64),
])
def test_dtype_and_shape_preserved(shape, dtype):
    x = (np.random.default_rng(0).random(shape) * 200).astype(dtype)
    out = ImageAugmenter(**BOOK, seed=0).augment_batch(x)
    assert out.dtype == dtype and out.shape == x.shape
    assert not np.array_equal(out, x)


@pytest.mark.parametrize("channels", [2, 6, 7])
@pytest.mark.parametrize("dtype, atol", [(np.float32, 1e-4), (np.uint8, 0)])
def test_channels_are_transformed_alike(channels, dtype, atol):
    x = np.repeat(_images(4, channels=1), channels, axis=3).astype(dtype)
    out = ImageAugmenter(**BOOK, seed=0).augment_batch(x).astype(np.float64)
    for c in range(1, channels):
        np.testing.assert_allclose(out[..., c], out[..., 0], atol=atol)


@pytest.mark.parametrize("kwargs", [
    dict(rotation_range=-1), dict(shear_range=-0.1), dict(width_shift_range=-0.2),
    dict(height_shift_range="big"), dict(zoom_range=-0.1), dict(zoom_range=1.5),
    dict(zoom_range=(1.2, 0.8)), dict(zoom_range=(0, 1)), dict(fill_mode="mirror"),
    dict(cval="black"), dict(width_shift_range=[]),
])
def test_bad_parameters_raise(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        ImageAugmenter(**kwargs)


def test_bad_images_raise():
    aug = ImageAugmenter(**BOOK)
    with pytest.raises(ValueError, match="images"):
        aug.augment_batch(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="x must"):
        aug.random_transform(np.zeros(5))


def test_flow_batches_cover_the_data_each_epoch_and_run_forever():
    x = _images(10)
    y = np.arange(10)
    flow = ImageAugmenter(**BOOK, seed=0).flow(x, y, batch_size=4, seed=5)
    assert len(flow) == 3
    labels = [flow[i][1] for i in range(len(flow))]
    assert [len(batch) for batch in labels] == [4, 4, 2]
    assert sorted(np.concatenate(labels)) == list(range(10))
    seen = [next(flow) for _ in range(7)]
    assert seen[0][0].shape == (4, 24, 24, 3) and seen[0][0].dtype == np.uint8
    assert not np.array_equal(seen[0][1], seen[3][1])  # reshuffled for epoch 2
    first = ImageAugmenter(**BOOK, seed=1).flow(x, y, batch_size=4, seed=5)[0]
    second = ImageAugmenter(**BOOK, seed=2).flow(x, y, batch_size=4, seed=5)[0]
    np.testing.assert_array_equal(first[0], second[0])


def test_flow_without_labels_and_with_weights():
    x = _images(6)
    aug = ImageAugmenter(horizontal_flip=True)
    assert aug.flow(x, batch_size=6, shuffle=False)[0].shape == x.shape
    (images, labels, weights) = aug.flow(x, np.arange(6), sample_weight=np.ones(6), batch_size=3)[1]
    assert images.shape[0] == labels.shape[0] == weights.shape[0] == 3


def test_flow_bad_input_raises():
    aug = ImageAugmenter()
    with pytest.raises(ValueError, match="y must"):
        aug.flow(_images(4), np.arange(3))
    with pytest.raises(ValueError, match="batch_size"):
        aug.flow(_images(4), np.arange(4), batch_size=0)
    with pytest.raises(ValueError, match="x must"):
        aug.flow(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="sample_weight"):
        aug.flow(_images(4), np.arange(4), sample_weight=np.ones(2))


def test_flow_save_to_dir_writes_images(tmp_path):
    out = tmp_path / "aug"
    image = _images(1)
    flow = ImageAugmenter(**BOOK).flow(image, batch_size=1, save_to_dir=str(out),
                                       save_prefix="image", save_format="png")
    for (total, _) in enumerate(flow, start=1):
        if total == 5:
            break
    files = sorted(os.listdir(out))
    assert len(files) == 5 and all(f.startswith("image_") and f.endswith(".png") for f in files)
    floats = ImageAugmenter().flow(image.astype(np.float32) / 255, batch_size=1,
                                   save_to_dir=str(tmp_path / "f"), save_format="jpg")
    floats[0]
    assert len(os.listdir(tmp_path / "f")) == 1
    with pytest.raises(ValueError, match="save_format"):
        ImageAugmenter().flow(image, batch_size=1, save_to_dir=str(out), save_format="nope")


def _colour_photo(path):
    """A PNG with strong, different red and blue (written by OpenCV, BGR)."""
    import cv2

    (y, x) = np.mgrid[0:48, 0:64]
    bgr = np.stack([x * 4, np.full_like(x, 90), 255 - y * 5], axis=-1).astype(np.uint8)
    cv2.imwrite(str(path), bgr)
    return path


def test_save_to_dir_saves_the_books_load_img_arrays_in_their_colours(tmp_path):
    # the book's ch. 2 listing: load_img (RGB) + img_to_array, then flow(save_to_dir=...)
    import keras

    source = _colour_photo(tmp_path / "photo.png")
    rgb = keras.utils.img_to_array(keras.utils.load_img(str(source)))[np.newaxis]
    ImageAugmenter().flow(rgb, batch_size=1, save_to_dir=str(tmp_path / "ours"), seed=0)[0]
    (ours,) = (tmp_path / "ours").iterdir()
    # what Keras' own save_to_dir did: array_to_img(x, scale=True), saved by PIL
    keras.utils.save_img(str(tmp_path / "keras.jpg"), keras.utils.array_to_img(rgb[0], scale=True))
    load = lambda path: keras.utils.img_to_array(keras.utils.load_img(str(path)))  # noqa: E731
    assert np.abs(load(ours) - load(tmp_path / "keras.jpg")).mean() < 3
    assert np.abs(load(ours) - rgb[0]).mean() < 3
    # an OpenCV (BGR) array is asked for
    import cv2

    bgr = cv2.imread(str(source))[np.newaxis]
    ImageAugmenter().flow(bgr, batch_size=1, save_to_dir=str(tmp_path / "bgr"), save_order="BGR",
                          seed=0)[0]
    (saved,) = (tmp_path / "bgr").iterdir()
    assert np.abs(cv2.imread(str(saved)).astype(int) - bgr[0]).mean() < 3
    with pytest.raises(ValueError, match="save_order must be one of"):
        ImageAugmenter().flow(bgr, save_to_dir=str(tmp_path), save_order="rgb")


def test_save_to_dir_second_run_keeps_the_first_runs_files(tmp_path):
    image = _images(1)
    for _ in range(2):  # the same seed, prefix and folder twice
        flow = ImageAugmenter(**BOOK).flow(image, batch_size=1, save_to_dir=str(tmp_path),
                                           save_prefix="image", save_format="png", seed=1)
        for (total, _) in enumerate(flow, start=1):
            if total == 3:
                break
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 6, names
    # Keras' names: {prefix}_{index}_{random}.{format}
    assert all(re.fullmatch(r"image_[0-2]_\d+\.png", name) for name in names)


def test_model_fit_on_flow():
    import keras

    x = _images(16, size=12).astype("float32") / 255
    y = keras.utils.to_categorical(np.arange(16) % 2, 2)
    model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(ImageAugmenter(**BOOK).flow(x, y, batch_size=8), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("view", [lambda x: x[:, ::2], lambda x: x[:, :, ::2], lambda x: x[..., ::-1],
                                  lambda x: np.asfortranarray(x)])
def test_strided_views_give_the_same_result_as_copies(view):
    x = view(_images(4, size=20))
    expected = ImageAugmenter(**BOOK, seed=5).augment_batch(np.ascontiguousarray(x))
    np.testing.assert_array_equal(ImageAugmenter(**BOOK, seed=5).augment_batch(x), expected)


@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect", "wrap"])
def test_color_uint8_batches_are_the_pixels_of_a_three_channel_warp(fill_mode):
    import cv2

    from pyimagesearch.augmentation.imageaugmenter import FILL_MODES, affine_matrices

    augmenter = ImageAugmenter(**dict(BOOK, rotation_range=40, fill_mode=fill_mode), cval=77)
    images = _images(12, size=31, seed=3)[:, :, 2:]  # 31 x 29: an odd width
    (h, w) = images.shape[1:3]
    matrices = affine_matrices(augmenter._draw(12, h, w, np.random.default_rng(9)), h, w)
    expected = [cv2.warpAffine(image, matrix[:2], (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=FILL_MODES[fill_mode], borderValue=(77,) * 4)
                for (image, matrix) in zip(images, matrices)]
    np.testing.assert_array_equal(augmenter.augment_batch(images, seed=9), np.array(expected))


def _fit_and_record_rows(flow_kwargs, fit_kwargs, n=45, flows=None):
    """Trains on a flow whose image `i` holds the value `i`; returns the rows of each batch.

    The flow is appended to `flows` when given.
    """
    import keras

    x = np.broadcast_to(np.arange(n, dtype="float32")[:, None, None, None], (n, 4, 4, 1))
    y = keras.utils.to_categorical(np.arange(n) % 2, 2)
    batches = []

    def record(images):
        try:
            batches.append(np.asarray(images)[:, 0, 0, 0].astype(int))
        except Exception:  # a symbolic (traced) call while Keras builds the model
            pass
        return images

    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Lambda(record),
                              keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", run_eagerly=True)
    batches.clear()
    flow = ImageAugmenter(horizontal_flip=True).flow(x, y, **flow_kwargs)
    if flows is not None:
        flows.append(flow)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(flow, verbose=0, **fit_kwargs)
    assert not [w for w in caught if "ran out of data" in str(w.message) or "shuffle" in str(w.message)]
    return batches


def test_fit_with_the_books_steps_per_epoch_runs_full_epochs_of_fresh_images():
    (n, batch, epochs) = (45, 8, 3)
    batches = _fit_and_record_rows(dict(batch_size=batch),
                                   dict(steps_per_epoch=n // batch, epochs=epochs), n)
    assert [len(b) for b in batches] == [batch] * (n // batch) * epochs
    stream = np.concatenate(batches)
    for start in range(0, len(stream) - n + 1, n):  # every pass over the data: each image once
        assert sorted(stream[start:start + n]) == list(range(n))
    assert not np.array_equal(stream[:n], stream[n:2 * n])  # reshuffled between passes


def test_fit_without_steps_per_epoch_shows_every_image_once_per_epoch():
    (n, batch, epochs) = (45, 8, 2)
    batches = _fit_and_record_rows(dict(batch_size=batch), dict(epochs=epochs), n)
    per_epoch = -(-n // batch)
    assert len(batches) == per_epoch * epochs
    for e in range(epochs):  # fit(shuffle=True) also shuffles the order of the batches
        epoch = batches[e * per_epoch:(e + 1) * per_epoch]
        assert sorted(len(b) for b in epoch) == [n % batch] + [batch] * (n // batch)
        assert sorted(np.concatenate(epoch)) == list(range(n))


def test_fit_with_steps_per_epoch_and_thread_workers_keeps_epochs_full():
    batches = _fit_and_record_rows(dict(batch_size=8, workers=2),
                                   dict(steps_per_epoch=5, epochs=3), 45)
    assert [len(b) for b in batches] == [8] * 15


def test_next_keeps_keras2_epochs_after_a_fit_with_steps_per_epoch():
    import keras

    x = _images(10, size=8).astype("float32")
    y = keras.utils.to_categorical(np.arange(10) % 2, 2)
    flow = ImageAugmenter(horizontal_flip=True).flow(x, y, batch_size=4)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    model.fit(flow, steps_per_epoch=2, epochs=1, verbose=0)
    assert [len(next(flow)[1]) for _ in range(6)] == [4, 4, 2, 4, 4, 2]
    assert flow[0][0].shape == (4, 8, 8, 3) and len(flow) == 3


def test_the_steps_per_epoch_look_up_finds_keras_epoch_iterator_in_a_real_fit(monkeypatch):
    # fails when a Keras upgrade moves the read of `num_batches` out of EpochIterator:
    # then raise requirements.txt's bound only with a new look-up (or repeat= in the book's calls)
    from keras.src.trainers.epoch_iterator import EpochIterator

    from pyimagesearch.augmentation import numpyarrayiterator

    found = []
    look_up = numpyarrayiterator._keras_epoch_iterator

    def spy(depth=40):
        found.append(look_up(depth + 1))  # one frame more: the spy's own
        return found[-1]

    monkeypatch.setattr(numpyarrayiterator, "_keras_epoch_iterator", spy)
    batches = _fit_and_record_rows(dict(batch_size=8), dict(steps_per_epoch=5, epochs=2), 45)
    iterators = [owner for owner in found if owner is not None]
    assert iterators and all(isinstance(owner, EpochIterator) for owner in iterators)
    assert {owner.steps_per_epoch for owner in iterators} == {5}
    assert [len(b) for b in batches] == [8] * 10


def test_a_look_up_that_finds_nothing_during_fit_warns_once_naming_keras_and_repeat(monkeypatch):
    import warnings

    import keras

    from pyimagesearch.augmentation import numpyarrayiterator

    monkeypatch.setattr(numpyarrayiterator, "_keras_epoch_iterator", lambda depth=40: None)
    x = _images(10, size=8).astype("float32")
    y = keras.utils.to_categorical(np.arange(10) % 2, 2)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    flow = ImageAugmenter().flow(x, y, batch_size=4)
    flow.num_batches  # a read from outside Keras is no fit: no warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(flow, steps_per_epoch=2, epochs=2, verbose=0)
    ours = [str(w.message) for w in caught if "ImageAugmenter.flow" in str(w.message)]
    assert len(ours) == 1
    assert f"Keras {keras.__version__}" in ours[0] and "repeat=True" in ours[0]
    assert "3.15" in ours[0]


def test_explicit_repeat_fixes_the_flow_whatever_loop_reads_it():
    flows = []
    batches = _fit_and_record_rows(dict(batch_size=8, repeat=True),
                                   dict(steps_per_epoch=5, epochs=3), 45, flows)
    assert [len(b) for b in batches] == [8] * 15  # the book's full epochs, said explicitly
    assert flows[0].num_batches is None and len(flows[0][5][1]) == 8  # stream batches
    batches = _fit_and_record_rows(dict(batch_size=8, repeat=False), dict(epochs=2), 45, flows)
    assert sorted(np.concatenate(batches[:6])) == list(range(45))  # one pass per epoch
    batches = _fit_and_record_rows(dict(batch_size=8, repeat=False),
                                   dict(steps_per_epoch=5, epochs=1), 45, flows)
    assert len(batches) == 5
    # a fit with steps_per_epoch does not turn a repeat=False flow into the stream
    assert flows[2].num_batches == len(flows[2]) == 6 and len(flows[2][5][1]) == 45 % 8
    fresh = ImageAugmenter().flow(_images(45, size=4), np.arange(45), batch_size=8, repeat=True)
    assert fresh.num_batches is None and len(fresh[5][1]) == 8


def test_flow_refuses_a_bad_repeat_and_a_save_prefix_with_a_path(tmp_path):
    aug = ImageAugmenter()
    with pytest.raises(ValueError, match="repeat must be True, False or None"):
        aug.flow(_images(4), repeat="yes")
    with pytest.raises(ValueError, match="repeat must be True, False or None"):
        aug.flow(_images(4), repeat=1)
    for prefix in ("../../x", "sub/x", os.path.join("a", "b")):
        with pytest.raises(ValueError, match="save_prefix must be a file-name prefix"):
            aug.flow(_images(4), save_to_dir=str(tmp_path / "out"), save_prefix=prefix)
    assert not os.path.exists(tmp_path / "out") and os.listdir(tmp_path) == []
