import os

import h5py
import numpy as np
import pytest

from pyimagesearch.io import HDF5DatasetWriter


def _rows(n, shape=(4, 5, 3), dtype="uint8", seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, *shape)).astype(dtype)


def _leftovers(folder):
    return [name for name in os.listdir(folder) if name.startswith(".")]


def test_round_trip_uint8_images(tmp_path):
    path = tmp_path / "train.hdf5"
    rows = _rows(7)
    labels = np.array([0, 1, 2, 0, 1, 2, 0])
    with HDF5DatasetWriter((7, 4, 5, 3), path, bufSize=3) as writer:
        writer.storeClassLabels(["cat", "dög", "ünicode"])
        writer.add(rows[:2], labels[:2])
        writer.add(rows[2:], labels[2:])
    with h5py.File(path, "r") as db:
        assert db["images"].dtype == np.uint8
        np.testing.assert_array_equal(db["images"][:], rows)
        np.testing.assert_array_equal(db["labels"][:], labels)
        assert np.issubdtype(db["labels"].dtype, np.integer)
        assert list(db["label_names"].asstr()[:]) == ["cat", "dög", "ünicode"]
        assert db["images"].chunks is not None
    assert _leftovers(tmp_path) == []


def test_buffer_is_written_when_full(tmp_path):
    writer = HDF5DatasetWriter((6, 2), tmp_path / "f.hdf5", dataKey="features", bufSize=4)
    writer.add(np.ones((3, 2)), [0, 0, 0])
    assert writer.idx == 0
    writer.add(np.ones((2, 2)), [1, 1])
    assert writer.idx == 5
    writer.close()


def test_float_features_become_float32_and_explicit_dtype_wins(tmp_path):
    features = np.random.default_rng(1).normal(size=(5, 6))
    with HDF5DatasetWriter((5, 6), tmp_path / "f.hdf5", dataKey="features") as writer:
        writer.add(features, np.arange(5))
    with HDF5DatasetWriter((5, 6), tmp_path / "g.hdf5", dataKey="features", dtype="float64") as writer:
        writer.add(features, np.arange(5))
    with h5py.File(tmp_path / "f.hdf5", "r") as db:
        assert db["features"].dtype == np.float32
        np.testing.assert_allclose(db["features"][:], features, rtol=1e-6)
    with h5py.File(tmp_path / "g.hdf5", "r") as db:
        assert db["features"].dtype == np.float64
        np.testing.assert_array_equal(db["features"][:], features)


def test_compression_is_passed_to_h5py(tmp_path):
    with HDF5DatasetWriter((3, 4, 5, 3), tmp_path / "c.hdf5", compression="gzip") as writer:
        writer.add(_rows(3), [0, 1, 0])
    with h5py.File(tmp_path / "c.hdf5", "r") as db:
        assert db["images"].compression == "gzip"
        np.testing.assert_array_equal(db["images"][:], _rows(3))


def test_output_appears_only_on_close(tmp_path):
    path = tmp_path / "out.hdf5"
    writer = HDF5DatasetWriter((2, 4, 5, 3), path, bufSize=1)
    writer.add(_rows(2), [0, 1])
    assert not path.exists()
    writer.close()
    assert path.exists()
    writer.close()  # a second close does nothing
    with pytest.raises(ValueError, match="closed"):
        writer.add(_rows(1), [0])


def test_exception_inside_with_leaves_nothing(tmp_path):
    path = tmp_path / "out.hdf5"
    with pytest.raises(RuntimeError):
        with HDF5DatasetWriter((4, 4, 5, 3), path, bufSize=1) as writer:
            writer.add(_rows(2), [0, 1])
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []


def test_existing_output_needs_overwrite_and_survives_a_failed_rewrite(tmp_path):
    path = tmp_path / "out.hdf5"
    with HDF5DatasetWriter((2, 4, 5, 3), path) as writer:
        writer.add(_rows(2), [0, 1])
    with pytest.raises(ValueError, match="outputPath .* already exists"):
        HDF5DatasetWriter((2, 4, 5, 3), path)
    with pytest.raises(RuntimeError):
        with HDF5DatasetWriter((2, 4, 5, 3), path, overwrite=True) as writer:
            writer.add(_rows(2, seed=5), [1, 1])
            raise RuntimeError
    with h5py.File(path, "r") as db:
        np.testing.assert_array_equal(db["images"][:], _rows(2))
    with HDF5DatasetWriter((1, 4, 5, 3), path, overwrite=True) as writer:
        writer.add(_rows(1, seed=5), [1])
    with h5py.File(path, "r") as db:
        np.testing.assert_array_equal(db["images"][:], _rows(1, seed=5))
    assert _leftovers(tmp_path) == []


def test_close_shrinks_to_rows_written(tmp_path):
    path = tmp_path / "out.hdf5"
    with HDF5DatasetWriter((10, 4, 5, 3), path, bufSize=4) as writer:
        writer.add(_rows(3), [2, 1, 0])
    with h5py.File(path, "r") as db:
        assert db["images"].shape == (3, 4, 5, 3)
        assert db["labels"].shape == (3,)
        np.testing.assert_array_equal(db["images"][:], _rows(3))


def test_add_checks_shape_lengths_labels_and_capacity(tmp_path):
    with HDF5DatasetWriter((3, 4, 5, 3), tmp_path / "out.hdf5") as writer:
        with pytest.raises(ValueError, match=r"rows must have shape \(n, 4, 5, 3\)"):
            writer.add(_rows(1, shape=(5, 4, 3)), [0])
        with pytest.raises(ValueError, match="one label per row"):
            writer.add(_rows(2), [0])
        with pytest.raises(ValueError, match="labels for .*out.hdf5.* must be integers, got dtype float64"):
            writer.add(_rows(1), [0.5])
        writer.add(_rows(2), [0, 1])
        with pytest.raises(ValueError, match="only 1 more fit in dims\\[0\\]=3"):
            writer.add(_rows(2), [0, 1])
        writer.add(_rows(1), [0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dims": (0, 3)}, "dims must be a tuple of positive integers"),
        ({"dims": "abc"}, "dims must be a tuple of positive integers"),
        ({"bufSize": 0}, "bufSize must be a positive integer"),
        ({"dataKey": "labels"}, "dataKey must be"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    arguments = {"dims": (2, 3), "outputPath": tmp_path / "x.hdf5", **kwargs}
    with pytest.raises(ValueError, match=match):
        HDF5DatasetWriter(**arguments)
    assert os.listdir(tmp_path) == []


def test_non_numeric_rows_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="rows must be numbers"):
        with HDF5DatasetWriter((1, 2), tmp_path / "x.hdf5") as writer:
            writer.add(np.array([["a", "b"]]), [0])
    assert os.listdir(tmp_path) == []
