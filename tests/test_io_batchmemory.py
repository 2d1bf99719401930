"""BatchMemory: batch buffers reused only once nothing views them."""

import gc
import threading

import h5py
import numpy as np
import pytest
from datagen import write_noise_hdf5

from pyimagesearch.io import HDF5DatasetGenerator
from pyimagesearch.infra.batchmemory import BatchMemory
from pyimagesearch.io.readpath.chunkreader import ChunkReader


def _address(array):
    return array.__array_interface__["data"][0]


def test_a_dropped_batchs_buffer_is_handed_out_again():
    memory = BatchMemory(keep=2)
    first = memory.empty((4, 5, 3))
    (address, first[...]) = (_address(first), 7)
    assert first.shape == (4, 5, 3) and first.dtype == np.uint8 and first.flags.c_contiguous
    del first
    assert memory.idle() == 1
    again = memory.empty((4, 5, 3))
    assert _address(again) == address and memory.idle() == 0
    del again
    assert _address(memory.empty((60,))) == address  # the same size in bytes: reused
    floats = memory.empty((2, 3), "float32")
    assert floats.dtype == np.float32 and floats.shape == (2, 3)


def test_a_buffer_is_not_reused_while_any_view_of_it_lives():
    memory = BatchMemory(keep=4)
    batch = memory.empty((8, 4))
    batch[...] = 1
    (view, shape_changed) = (batch[2:5, ::2], batch.reshape(32))
    address = _address(batch)
    del batch
    other = memory.empty((8, 4))
    other[...] = 2
    assert _address(other) != address
    assert (view == 1).all() and (shape_changed == 1).all()
    del view
    assert memory.idle() == 0  # the reshaped view still holds the buffer
    del shape_changed
    assert memory.idle() == 1


def test_no_more_than_keep_idle_buffers_are_kept():
    memory = BatchMemory(keep=3)
    batches = [memory.empty((16,)) for _ in range(6)]
    del batches
    gc.collect()
    assert memory.idle() == 3
    assert BatchMemory(keep=0).empty((3,)).shape == (3,)
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="keep must be a non-negative integer"):
            BatchMemory(keep=bad)
    for dtype in (object, "U3", [("a", "u1")]):
        with pytest.raises(ValueError, match="dtype must be a number type"):
            memory.empty((2,), dtype)


def test_threads_never_share_a_live_buffer():
    memory = BatchMemory(keep=4)
    (errors, barrier) = ([], threading.Barrier(4))

    def work(value):
        barrier.wait()
        for _ in range(300):
            held = [memory.empty((64,)) for _ in range(3)]
            for array in held:
                array[...] = value
            if not all((array == value).all() for array in held):
                errors.append(value)

    threads = [threading.Thread(target=work, args=(value,)) for value in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and memory.idle() <= 4


def test_the_generators_batches_reuse_their_buffers(tmp_path):
    path = tmp_path / "data.hdf5"
    (images, _) = write_noise_hdf5(path, (24, 6, 6, 3), 3, seed=1)
    gen = HDF5DatasetGenerator(path, 8, classes=3)
    address = _address(gen[0][0])  # dropped at once
    (batch, _) = gen[1]
    assert _address(batch) == address
    kept = gen[2][0]
    assert _address(kept) != address
    np.testing.assert_array_equal(batch, images[8:16])
    np.testing.assert_array_equal(kept, images[16:])
    assert gen.file._reader._empty.__self__.keep == gen.max_queue_size + gen.workers + 1
    with h5py.File(path, "r") as db:
        plain = ChunkReader(db["images"])
    assert plain._empty is np.empty


def test_a_copy_or_pickle_carries_no_idle_buffers():
    import copy
    import pickle

    memory = BatchMemory(keep=3)
    memory.empty((1000, 1000), np.uint8)  # dropped at once: its buffer is idle
    assert memory.idle() == 1
    for twin in (pickle.loads(pickle.dumps(memory)), copy.deepcopy(memory)):
        assert twin.keep == 3 and twin.idle() == 0
    assert len(pickle.dumps(memory)) < 1000


def test_mean_batches_reuse_memory_only_once_nothing_views_them():
    from pyimagesearch.preprocessing import MeanPreprocessor

    mean = MeanPreprocessor(120.0, 110.0, 100.0)
    rng = np.random.default_rng(0)
    (first, second) = (rng.integers(0, 256, (4, 5, 6, 3), dtype=np.uint8) for _ in range(2))
    kept = mean.preprocess_batch(first)
    other = mean.preprocess_batch(second)  # the first batch is still viewed: a buffer of its own
    expected = lambda batch: batch.astype(np.float32) - np.float32([100.0, 110.0, 120.0])  # noqa: E731
    np.testing.assert_array_equal(kept, expected(first))
    np.testing.assert_array_equal(other, expected(second))
    address = other.ctypes.data
    assert mean._memory.idle() == 0
    del other
    assert mean._memory.idle() == 1  # the second batch's buffer, kept for the next
    again = mean.preprocess_batch(first)  # and reused
    assert again.ctypes.data == address and mean._memory.idle() == 0
    np.testing.assert_array_equal(again, expected(first))
    np.testing.assert_array_equal(kept, expected(first))
