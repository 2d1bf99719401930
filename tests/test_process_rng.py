"""Random components draw different numbers in each worker process, and the same in the creating one."""

import multiprocessing
import os
import pickle
import queue

import numpy as np
import pytest

from pyimagesearch.augmentation import ImageAugmenter
from pyimagesearch.preprocessing import PatchPreprocessor
from pyimagesearch.utils import processrng
from pyimagesearch.utils.processrng import ProcessLocalRNG
from datagen import class_image

BOOK = dict(rotation_range=18, zoom_range=0.15, width_shift_range=0.2,
            height_shift_range=0.2, shear_range=0.15, horizontal_flip=True)


def _batch(n=6, size=(32, 32)):
    """`n` copies of one image: every difference comes from the random draws."""
    return np.stack([class_image(np.random.default_rng(0), 1, size)] * n)


def _in_forked_children(function, count=2, timeout=60):
    """Runs `function()` in `count` children forked at once; returns their results in order."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def child(index):
        try:
            results.put((index, function(), None))
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            results.put((index, None, repr(error)))

    children = [context.Process(target=child, args=(i,)) for i in range(count)]
    for process in children:
        process.start()
    try:
        got = {}
        for _ in children:
            (index, value, error) = results.get(timeout=timeout)
            assert error is None, f"child {index} failed: {error}"
            got[index] = value
    except queue.Empty:
        pytest.fail(f"a forked child sent nothing within {timeout} s")
    finally:
        for process in children:
            process.join(timeout=timeout)
            if process.is_alive():
                process.kill()
                process.join()
    return [got[i] for i in range(count)]


@pytest.mark.parametrize("seed", [7, None])
def test_augmenter_forked_children_differ_and_parent_stream_is_kept(seed):
    images = _batch()
    aug = ImageAugmenter(**BOOK, seed=seed)
    (first, second) = _in_forked_children(lambda: aug.augment_batch(images))
    assert not np.array_equal(first, second), "both forked children drew the same augmentations"
    if seed is not None:
        expected = ImageAugmenter(**BOOK, seed=seed).augment_batch(images)
        np.testing.assert_array_equal(aug.augment_batch(images), expected)
        assert not np.array_equal(first, expected)


@pytest.mark.parametrize("seed", [7, None])
def test_patch_forked_children_differ_and_parent_stream_is_kept(seed):
    images = _batch()
    patch = PatchPreprocessor(8, 8, seed=seed)
    (first, second) = _in_forked_children(lambda: patch.preprocess_batch(images))
    assert not np.array_equal(first, second), "both forked children drew the same patches"
    if seed is not None:
        expected = PatchPreprocessor(8, 8, seed=seed).preprocess_batch(images)
        np.testing.assert_array_equal(patch.preprocess_batch(images), expected)


def test_seeded_stream_is_default_rng_in_the_creating_process():
    source = ProcessLocalRNG(3)
    assert source.generator() is source.generator()
    np.testing.assert_array_equal(source.generator().random(5), np.random.default_rng(3).random(5))


def test_other_process_rederives_once_from_seed_and_pid(monkeypatch):
    parent = ProcessLocalRNG(3)
    parent.generator().random(4)  # the parent's draws do not change a child's stream
    copies = [pickle.loads(pickle.dumps(parent)) for _ in range(3)] + [ProcessLocalRNG(3)]
    monkeypatch.setattr(processrng.os, "getpid", lambda: 424242)
    generator = copies[0].generator()
    assert copies[0].generator() is generator
    streams = [copy.generator().random(5) for copy in copies]
    for stream in streams[1:]:
        np.testing.assert_array_equal(stream, streams[0])
    assert not np.array_equal(streams[0], np.random.default_rng(3).random(5))
    monkeypatch.setattr(processrng.os, "getpid", lambda: 424243)
    assert not np.array_equal(pickle.loads(pickle.dumps(parent)).generator().random(5), streams[0])
    assert not np.array_equal(ProcessLocalRNG(4).generator().random(5), streams[0])


def test_unseeded_copies_in_another_process_use_fresh_entropy(monkeypatch):
    parent = ProcessLocalRNG(None)
    copies = [pickle.loads(pickle.dumps(parent)) for _ in range(2)]
    monkeypatch.setattr(processrng.os, "getpid", lambda: 424242)
    (a, b) = (copy.generator().random(5) for copy in copies)
    assert not np.array_equal(a, b)


def test_random_components_pickle_and_keep_their_stream_in_the_same_process():
    images = _batch(3)
    for (component, draw) in [(ImageAugmenter(**BOOK, seed=5), "augment_batch"),
                              (PatchPreprocessor(8, 8, seed=5), "preprocess_batch")]:
        getattr(component, draw)(images)
        copy = pickle.loads(pickle.dumps(component))
        np.testing.assert_array_equal(getattr(copy, draw)(images), getattr(component, draw)(images))
    assert isinstance(component.rng, np.random.Generator)


class _RecordWorkers:
    """Records the process id of every worker that prepares a batch."""

    def __init__(self, inner):
        self.inner = inner
        self.pids = multiprocessing.get_context("fork").SimpleQueue()
        self.owner = os.getpid()

    def preprocess(self, image):
        return self.inner.preprocess(image)

    def preprocess_batch(self, images):
        if os.getpid() != self.owner:
            self.pids.put(os.getpid())
        return self.inner.preprocess_batch(images)

    def workers(self):
        pids = set()
        while not self.pids.empty():
            pids.add(self.pids.get())
        return pids


def test_generator_process_workers_draw_different_patches_in_every_run(tmp_path):
    import keras

    from pyimagesearch.io import HDF5DatasetGenerator, HDF5DatasetWriter

    (rows, batch_size, batches) = (16, 4, 4)
    path = tmp_path / "same.hdf5"
    with HDF5DatasetWriter((rows, 32, 32, 3), path) as writer:
        writer.add(_batch(rows), np.zeros(rows, int))
    patch = _RecordWorkers(PatchPreprocessor(8, 8, seed=1))
    gen = HDF5DatasetGenerator(path, batch_size, preprocessors=[patch], workers=2,
                               use_multiprocessing=True)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten()])
    runs = []
    for _ in range(2):  # close() stops the workers: the second run forks new ones from the same parent
        runs.append(model.predict(gen, verbose=0).reshape(batches, -1))
        gen.close()
        assert len(patch.workers()) == 2  # both workers took part (the pool hands out its idle ones in turn)
    patches = np.concatenate(runs)
    distinct = {bytes(batch) for batch in patches.astype(np.uint8)}
    assert len(distinct) == len(patches), f"{len(patches) - len(distinct)} batches repeat another's patches"
