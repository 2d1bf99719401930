"""Tests that guard the data itself: every image is served with its own label, splits never share an image.

Every generator test runs on both read paths: the memory map of the chunks and h5py.
"""

import h5py
import numpy as np
import pytest
from datagen import decode_images, write_coded_hdf5, write_coded_image_tree

from pyimagesearch.augmentation import ImageAugmenter
from pyimagesearch.io import HDF5DatasetGenerator, build_hdf5_splits

N, CLASSES, BATCH = 40, 4, 6


@pytest.fixture(params=["mmap", "h5py"])
def coded(tmp_path, monkeypatch, request):
    """A coded file of 7-row chunks (so batches of 6 cross chunk ends), and a generator maker on one read path."""
    from pyimagesearch.io import hdf5datasetwriter

    path = tmp_path / "coded.hdf5"
    with monkeypatch.context() as patch:
        patch.setattr(hdf5datasetwriter, "_CHUNK_BYTES", 7 * 6 * 6 * 3)
        labels = write_coded_hdf5(path, num_rows=N, classes=CLASSES)
    with h5py.File(path, "r") as db:
        assert db["images"].chunks[0] == 7

    def make(*args, **kwargs):
        gen = HDF5DatasetGenerator(*args, read_path=request.param, **kwargs)
        assert gen.read_path == request.param
        return gen

    return path, labels, make


def _check_batches(batches, labels, rows=None):
    """Each image carries its own label; together the batches hold `rows` exactly once."""
    seen = []
    for images, batch_labels in batches:
        assert len(images) == len(batch_labels)
        batch_labels = np.asarray(batch_labels)
        if batch_labels.ndim == 2:
            batch_labels = batch_labels.argmax(axis=1)
        coded_labels, coded_rows = decode_images(images)
        np.testing.assert_array_equal(batch_labels, coded_labels)
        np.testing.assert_array_equal(labels[coded_rows], coded_labels)
        seen.extend(coded_rows.tolist())
    expected = range(len(labels)) if rows is None else rows
    assert sorted(seen) == list(expected)


@pytest.mark.parametrize("binarize", [True, False])
def test_plain_and_shuffled_batches_carry_their_own_labels(coded, binarize):
    path, labels, make = coded
    for shuffle in (False, True):
        gen = make(path, BATCH, classes=CLASSES, binarize=binarize, shuffle=shuffle, seed=1)
        for _ in range(2):  # two epochs: the second has a new order
            _check_batches([gen[i] for i in range(len(gen))], labels)
            gen.on_epoch_end()


def test_augmented_batches_carry_their_own_labels(coded):
    path, labels, make = coded
    aug = ImageAugmenter(rotation_range=30, width_shift_range=0.2, height_shift_range=0.2,
                         zoom_range=0.2, horizontal_flip=True, fill_mode="nearest")
    gen = make(path, BATCH, classes=CLASSES, aug=aug, shuffle=True, seed=2)
    _check_batches(gen.generator(passes=1), labels)


@pytest.mark.parametrize("count", [1, 2, 3, 6])
def test_every_shard_carries_its_own_labels(coded, count):
    # each shard serves its slice of every global batch; together the shards
    # serve every row once, less the file's last N % count rows
    path, labels, make = coded
    gen = make(path, BATCH, classes=CLASSES, shuffle=True, seed=3)
    seen = []
    for index in range(count):
        part = gen.shard(index, count)
        rows = []
        for images, batch_labels in part.generator(passes=1):
            coded_labels, coded_rows = decode_images(images)
            np.testing.assert_array_equal(np.asarray(batch_labels).argmax(axis=1), coded_labels)
            np.testing.assert_array_equal(labels[coded_rows], coded_labels)
            rows.extend(coded_rows.tolist())
        assert len(rows) == part.numImages
        seen.extend(rows)
    assert sorted(seen) == list(range(N - N % count))


@pytest.mark.parametrize("use_multiprocessing", [False, True], ids=["threads", "processes"])
def test_worker_batches_carry_their_own_labels(coded, use_multiprocessing):
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    path, labels, make = coded
    gen = make(path, BATCH, classes=CLASSES, shuffle=True, seed=4,
               workers=2, use_multiprocessing=use_multiprocessing)
    adapter = PyDatasetAdapter(gen, shuffle=False)
    for _ in range(2):
        _check_batches(adapter.get_numpy_iterator(), labels)
        adapter.on_epoch_end()


def test_splits_share_no_source_image(tmp_path):
    paths = write_coded_image_tree(tmp_path / "images", per_class=8)
    report = build_hdf5_splits(tmp_path / "images", tmp_path / "out", size=(5, 4), val_size=6,
                               test_size=6, workers=2, verbose=False)
    seen = {}
    for name, path in report.paths.items():
        with h5py.File(path, "r") as db:
            coded_labels, ids = decode_images(db["images"][:])
            np.testing.assert_array_equal(db["labels"][:], coded_labels)
        seen[name] = set(ids.tolist())
        assert len(seen[name]) == report.counts[name]
    assert not seen["train"] & seen["val"] and not seen["train"] & seen["test"] and not seen["val"] & seen["test"]
    assert set().union(*seen.values()) == set(range(len(paths)))
