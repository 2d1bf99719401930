"""The pipeline's one seeding scheme: keyed draws alike in every process, keyless ones never repeated by a worker."""

import multiprocessing
import os
import pickle
import queue

import numpy as np
import pytest

from pyimagesearch.augmentation import ImageAugmenter
from pyimagesearch.preprocessing import PatchPreprocessor
from pyimagesearch.infra import processrng
from pyimagesearch.infra.processrng import RandomSource
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


def test_keyed_draws_are_the_same_in_any_process_and_copy(monkeypatch):
    source = RandomSource(3)
    expected = np.random.default_rng((3, 2, 5)).random(4)
    np.testing.assert_array_equal(source.at(2, 5).random(4), expected)
    source.next().random(8)  # keyless draws do not move keyed ones
    copy = pickle.loads(pickle.dumps(source))
    monkeypatch.setattr(processrng.os, "getpid", lambda: 424242)
    np.testing.assert_array_equal(copy.at(2, 5).random(4), expected)
    np.testing.assert_array_equal(source.at(2, 5).random(4), expected)
    assert not np.array_equal(source.at(2, 6).random(4), expected)
    assert not np.array_equal(source.at(3, 5).random(4), expected)


def test_keyless_stream_restarts_per_process_under_its_own_keys(monkeypatch):
    parent = RandomSource(3)
    first = parent.next().random(5)
    np.testing.assert_array_equal(first, np.random.default_rng((3, processrng.STREAM, 0)).random(5))
    assert not np.array_equal(parent.next().random(5), first)
    copies = [pickle.loads(pickle.dumps(parent)) for _ in range(2)]
    monkeypatch.setattr(processrng.os, "getpid", lambda: 424242)
    (a, b) = (copy.next().random(5) for copy in copies)
    np.testing.assert_array_equal(a, b)  # the same process: the same stream
    assert not np.array_equal(a, first)
    monkeypatch.setattr(processrng.os, "getpid", lambda: 424243)
    assert not np.array_equal(pickle.loads(pickle.dumps(parent)).next().random(5), a)


def test_unseeded_sources_draw_fresh_entropy_once():
    (a, b) = (RandomSource(None), RandomSource(None))
    assert a.seed != b.seed
    copy = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(copy.at(0, 1).random(3), a.at(0, 1).random(3))


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_bad_seed_is_named(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer or None"):
        RandomSource(seed)
    with pytest.raises(ValueError, match="seed must be a non-negative integer or None"):
        PatchPreprocessor(8, 8, seed=seed)


def test_random_components_pickle_and_keep_their_stream_in_the_same_process():
    images = _batch(3)
    for (component, draw) in [(ImageAugmenter(**BOOK, seed=5), "augment_batch"),
                              (PatchPreprocessor(8, 8, seed=5), "preprocess_batch")]:
        getattr(component, draw)(images)
        copy = pickle.loads(pickle.dumps(component))
        np.testing.assert_array_equal(getattr(copy, draw)(images), getattr(component, draw)(images))


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


def test_a_loaded_checkpoint_continues_keras_seed_states(tmp_path):
    import keras

    from pyimagesearch.utils import load_checkpoint

    def build():
        keras.utils.set_random_seed(11)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5),
                                  keras.layers.Dense(2)])
        model.compile(optimizer="sgd", loss="mse")
        return model

    def states(model):
        return [keras.ops.convert_to_numpy(v).tolist() for v in model.non_trainable_variables
                if v.path.endswith("seed_generator_state")]

    model = build()
    model.fit(np.ones((12, 4)), np.ones((12, 2)), batch_size=4, epochs=2, verbose=0)
    trained = states(model)
    assert trained and trained[0][1] == 6  # one draw per step: 3 steps x 2 epochs
    model.save(tmp_path / "epoch_2.keras")
    build()  # the script seeds and builds as it did, then loads
    keras.utils.set_random_seed(11)
    assert states(load_checkpoint(tmp_path / "epoch_2.keras", verbose=0)) == trained


def test_set_epoch_serves_what_the_uninterrupted_run_serves(tmp_path):
    from pyimagesearch.io import HDF5DatasetGenerator, HDF5DatasetWriter

    path = tmp_path / "rows.hdf5"
    with HDF5DatasetWriter((12, 32, 32, 3), path) as writer:
        writer.add(_batch(12), np.arange(12) % 2)

    def generator():
        return HDF5DatasetGenerator(path, 4, preprocessors=[PatchPreprocessor(8, 8, seed=1)],
                                    aug=ImageAugmenter(**BOOK, seed=2), shuffle=True, seed=3)

    def epoch(gen):
        return [gen[i][0] for i in range(len(gen))]

    whole = generator()
    first = epoch(whole)
    for _ in range(2):
        whole.on_epoch_end()
    third = epoch(whole)
    resumed = generator()
    resumed.set_epoch(2)
    for (a, b) in zip(epoch(resumed), third):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for (a, b) in zip(first, third))
    with pytest.raises(ValueError, match="epoch must be a non-negative integer"):
        resumed.set_epoch(-1)

    x = _batch(10)
    aug = ImageAugmenter(**BOOK)
    whole = aug.flow(x, batch_size=4, seed=5)
    whole.on_epoch_end()
    resumed = aug.flow(x, batch_size=4, seed=5)
    resumed.set_epoch(1)
    np.testing.assert_array_equal(resumed[2], whole[2])
    # the endless stream of fit(steps_per_epoch=2): epoch 1 starts at its batch 2
    whole = aug.flow(x, batch_size=4, seed=5, repeat=True)
    whole.on_epoch_end()
    resumed = aug.flow(x, batch_size=4, seed=5, repeat=True)
    resumed.set_epoch(1, steps_per_epoch=2)
    np.testing.assert_array_equal(resumed[0], whole[2])
