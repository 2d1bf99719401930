import pickle

import h5py
import numpy as np
import pytest
from datagen import write_noise_hdf5

from pyimagesearch.io import HDF5DatasetGenerator, HDF5DatasetWriter

N, CLASSES = 10, 3


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    """Read-only: N rows of 4x4 noise labelled `row % CLASSES`, classes a, b, c."""
    path = tmp_path_factory.mktemp("generator") / "data.hdf5"
    write_noise_hdf5(path, (N, 4, 4, 3), CLASSES, label_names=["a", "b", "c"])
    return path


def _file(path, key="images"):
    with h5py.File(path, "r") as db:
        return db[key][:], db["labels"][:]


def _concat(batches):
    images, labels = zip(*batches)
    return np.concatenate(images), np.concatenate(labels)


def test_epoch_in_file_order_with_partial_batch(db_path):
    images, labels = _file(db_path)
    gen = HDF5DatasetGenerator(db_path, 4, classes=CLASSES, binarize=False)
    assert len(gen) == 3 and gen.numImages == N
    batches = [gen[i] for i in range(len(gen))]
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    got_images, got_labels = _concat(batches)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert np.issubdtype(got_labels.dtype, np.integer)
    with pytest.raises(IndexError):
        gen[3]


def test_one_hot_labels(db_path):
    _, labels = _file(db_path)
    gen = HDF5DatasetGenerator(db_path, 3, classes=CLASSES)
    _, onehot = _concat(gen.generator(passes=1))
    assert onehot.dtype == np.float32 and onehot.shape == (N, CLASSES)
    np.testing.assert_array_equal(onehot.sum(axis=1), 1)
    np.testing.assert_array_equal(onehot.argmax(axis=1), labels)


def test_shuffle_covers_every_row_once_and_is_seeded(db_path):
    images, _ = _file(db_path)

    def epochs(seed, count=3):
        gen = HDF5DatasetGenerator(db_path, 2, classes=CLASSES, shuffle=True, seed=seed)
        batches = list(gen.generator(passes=count))
        size = len(gen)
        return [_concat(batches[e * size:(e + 1) * size])[0] for e in range(count)]

    first = epochs(seed=7)
    for epoch in first:
        assert sorted(map(bytes, epoch)) == sorted(map(bytes, images))
    assert any(not np.array_equal(epoch, first[0]) for epoch in first[1:])
    assert not all(np.array_equal(epoch, images) for epoch in first)
    for a, b in zip(first, epochs(seed=7)):
        np.testing.assert_array_equal(a, b)


class _PerImage:
    def __init__(self):
        self.calls = 0

    def preprocess(self, image):
        self.calls += 1
        return image.astype("float32") / 255.0


class _Batched(_PerImage):
    def __init__(self):
        super().__init__()
        self.batch_calls = 0

    def preprocess_batch(self, images):
        self.batch_calls += 1
        return images.astype("float32") / 255.0


def test_batch_preprocessing_when_every_preprocessor_has_it(db_path):
    images, _ = _file(db_path)
    first, second = _Batched(), _Batched()
    gen = HDF5DatasetGenerator(db_path, 4, preprocessors=[first, second], classes=CLASSES)
    got, _ = _concat(gen.generator(passes=1))
    assert (first.batch_calls, first.calls) == (3, 0)
    np.testing.assert_allclose(got, images / 255.0 / 255.0, rtol=1e-5)


def test_per_image_preprocessing_otherwise(db_path):
    images, _ = _file(db_path)
    batched, per_image = _Batched(), _PerImage()
    gen = HDF5DatasetGenerator(db_path, 4, preprocessors=[batched, per_image], classes=CLASSES)
    got, _ = _concat(gen.generator(passes=1))
    assert (batched.batch_calls, batched.calls, per_image.calls) == (0, N, N)
    np.testing.assert_allclose(got, images / 255.0 / 255.0, rtol=1e-5)


def test_book_preprocessors_and_augmenter(db_path):
    from pyimagesearch.preprocessing import ImageToArrayPreprocessor, MeanPreprocessor

    images, _ = _file(db_path)

    class Flip:
        def augment_batch(self, batch):
            return batch[:, :, ::-1]

    gen = HDF5DatasetGenerator(
        db_path, 4, preprocessors=[MeanPreprocessor(1.0, 2.0, 3.0), ImageToArrayPreprocessor()],
        aug=Flip(), classes=CLASSES,
    )
    got, _ = _concat(gen.generator(passes=1))
    expected = (images.astype("float32") - np.array([3.0, 2.0, 1.0], "float32"))[:, :, ::-1]
    np.testing.assert_allclose(got, expected)


def test_features_data_key(tmp_path):
    path = tmp_path / "features.hdf5"
    features = np.random.default_rng(2).normal(size=(5, 8)).astype("float32")
    with HDF5DatasetWriter((5, 8), path, dataKey="features") as writer:
        writer.add(features, [0, 1, 1, 0, 1])
    gen = HDF5DatasetGenerator(path, 2, dataKey="features", binarize=False)
    got, labels = _concat(gen.generator(passes=1))
    np.testing.assert_array_equal(got, features)
    np.testing.assert_array_equal(labels, [0, 1, 1, 0, 1])


def test_shards_cut_every_batch_into_equal_slices(db_path):
    images, labels = _file(db_path)
    gen = HDF5DatasetGenerator(db_path, 4, classes=CLASSES, binarize=False)
    shards = [gen.shard(i, 2) for i in range(2)]
    assert [s.batchSize for s in shards] == [2, 2]
    assert [len(s) for s in shards] == [3, 3] and [s.numImages for s in shards] == [5, 5]
    # the shards' batches side by side are the whole generator's batches
    for index in range(len(gen)):
        together = [np.concatenate(part) for part in zip(*(s[index] for s in shards))]
        np.testing.assert_array_equal(together[0], gen[index][0])
        np.testing.assert_array_equal(together[1], gen[index][1])


def test_uneven_shards_drop_the_remainder_and_keep_equal_steps(db_path):
    images, _ = _file(db_path)
    gen = HDF5DatasetGenerator(db_path, 6, classes=CLASSES, binarize=False)
    shards = [gen.shard(i, 3) for i in range(3)]
    # 10 rows = one batch of 6 + 4: each share gets 2 + 1 rows, the last row is dropped
    assert [[len(s[b][0]) for b in range(len(s))] for s in shards] == [[2, 1]] * 3
    seen = np.concatenate([_concat(s.generator(passes=1))[0] for s in shards])
    kept = {row.tobytes() for row in seen}
    assert len(seen) == 9 and kept == {row.tobytes() for row in images[:9]}
    assert [len(HDF5DatasetGenerator(db_path, 9, classes=CLASSES).shard(i, 3)) for i in range(3)] == [1] * 3


def test_shuffled_shards_follow_the_seeded_order(db_path):
    gen = HDF5DatasetGenerator(db_path, 2, classes=CLASSES, binarize=False, shuffle=True, seed=7)
    shards = [gen.shard(i, 2) for i in range(2)]
    for _ in range(3):  # epochs: a new order each, the same in every share
        whole = _concat(gen[i] for i in range(len(gen)))[0]
        together = np.concatenate(
            [np.concatenate([s[i][0] for s in shards]) for i in range(len(gen))])
        np.testing.assert_array_equal(together, whole)
        orders = [s._order.tolist() for s in shards]
        assert orders[0] == orders[1]
        for g in (gen, *shards):
            g.on_epoch_end()
    assert shards[0]._order.tolist() != orders[0] or len(gen) < 3


def test_shard_rejects_bad_arguments(db_path):
    gen = HDF5DatasetGenerator(db_path, 4, classes=CLASSES)
    with pytest.raises(ValueError, match=r"index must be an integer in \[0, 1\], got 2"):
        gen.shard(2, 2)
    with pytest.raises(ValueError, match="count=3 must divide batchSize=4"):
        gen.shard(0, 3)
    with pytest.raises(ValueError, match="count must be a positive integer"):
        gen.shard(0, 0)
    with pytest.raises(ValueError, match="already a share"):
        gen.shard(0, 2).shard(0, 1)
    with pytest.raises(ValueError, match="fewer than count=16"):
        HDF5DatasetGenerator(db_path, 16, classes=CLASSES).shard(0, 16)


def test_lazy_open_close_and_pickle(db_path):
    images, _ = _file(db_path)
    with HDF5DatasetGenerator(db_path, 4, classes=CLASSES) as gen:
        first = gen[0][0]
        assert gen.db.id.valid
        copy = pickle.loads(pickle.dumps(gen))
        np.testing.assert_array_equal(copy[0][0], first)
        copy.close()
        db = gen.db
    assert not db.id.valid
    np.testing.assert_array_equal(gen[1][0], images[4:8])  # reopens on use
    gen.close()


def test_workers_with_multiprocessing_cover_every_row(db_path):
    import keras

    images, _ = _file(db_path)
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten()])
    flat = images.reshape(N, -1).astype("float32")
    gen = HDF5DatasetGenerator(db_path, 3, classes=CLASSES, workers=2, use_multiprocessing=True)
    np.testing.assert_array_equal(model.predict(gen, verbose=0), flat)
    shuffled = HDF5DatasetGenerator(
        db_path, 3, classes=CLASSES, shuffle=True, seed=3, workers=2, use_multiprocessing=True
    )
    got = model.predict(shuffled, verbose=0)
    assert sorted(map(bytes, got)) == sorted(map(bytes, flat))


def test_model_fit_one_epoch(db_path):
    import keras

    model = keras.Sequential(
        [keras.Input((4, 4, 3)), keras.layers.Rescaling(1 / 255.0), keras.layers.Flatten(),
         keras.layers.Dense(CLASSES, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    train = HDF5DatasetGenerator(db_path, 4, classes=CLASSES, shuffle=True, seed=0)
    val = HDF5DatasetGenerator(db_path, 4, classes=CLASSES)
    history = model.fit(train, validation_data=val, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert "val_accuracy" in history.history
    assert model.predict(val, verbose=0).shape == (N, CLASSES)


def test_sparse_labels_fit(db_path):
    import keras

    model = keras.Sequential(
        [keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(CLASSES)]
    )
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    gen = HDF5DatasetGenerator(db_path, 5, classes=CLASSES, binarize=False)
    history = model.fit(gen, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="dbPath .*missing.hdf5"):
        HDF5DatasetGenerator(tmp_path / "missing.hdf5", 4)


def test_missing_data_key(db_path):
    with pytest.raises(ValueError, match="no dataset 'features'"):
        HDF5DatasetGenerator(db_path, 4, classes=CLASSES, dataKey="features")


def test_label_outside_classes(db_path):
    with pytest.raises(ValueError, match="label 2 outside \\[0, classes\\) with classes=2"):
        HDF5DatasetGenerator(db_path, 4, classes=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batchSize": 0}, "batchSize must be a positive integer"),
        ({"batchSize": 2.5}, "batchSize must be a positive integer"),
        ({"classes": 0}, "classes must be a positive integer"),
        ({"aug": object()}, "aug must have an augment_batch"),
    ],
)
def test_bad_arguments(db_path, kwargs, match):
    arguments = {"dbPath": db_path, "batchSize": 4, "classes": CLASSES, **kwargs}
    with pytest.raises(ValueError, match=match):
        HDF5DatasetGenerator(**arguments)
