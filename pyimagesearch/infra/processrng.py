"""One seeding scheme for every random draw of the input pipeline.

A batch's randomness (its row order, patches, augmentation) is a function of
`(seed, epoch, batch)` alone, wherever and whenever it is computed: in the
main process or a worker, in the first run or in a run resumed from a
checkpoint of epoch `k` (the generators' epoch counters are set to `k`, see
`HDF5DatasetGenerator.set_epoch`). Each draw is
`np.random.default_rng((seed, *key))`, the counter seed that
`ImageAugmenter.flow` has always used.

Keras' process workers fork the main process, or unpickle a copy of the
dataset: keyed draws need no care there, since two workers never compute the
same batch. Draws made without a key (the book's `preprocess(image)` called
in a loop, `augment_batch(images)` called directly) are the stream
`(seed, STREAM, n)`, call `n` of this process; a copy in another process
counts its own calls under keys that also hold its process id, so sibling
workers never repeat each other's draws.
"""

import os
import threading

import numpy as np

from pyimagesearch.infra.validation import check_int

# the "epoch" of keyless draws; `ImageAugmenter.flow`'s endless stream uses 2**63 - 1
STREAM = 2**63 - 2


def batch_rng(seed, *key):
    """The generator of one keyed draw: `np.random.default_rng((seed, *key))`.

    Args:
        seed: a non-negative integer.
        *key: non-negative integers, such as `epoch, batch`.

    Returns:
        A `numpy.random.Generator`.
    """
    return np.random.default_rng((seed, *(int(k) for k in key)))


def check_seed(seed, name="seed"):
    """Returns `seed` as an int, or None.

    Raises:
        ValueError: `seed` is not None or a non-negative integer.
    """
    if seed is None:
        return None
    return check_int(seed, name, minimum=0, allow_none=True)


class RandomSource:
    """The random draws of one pipeline component (patches, augmentation).

    Keyed draws: `at(epoch, batch)` gives the same generator in any process.
    Keyless draws: `next()` gives the next generator of this process's
    stream (see the module's docstring).

    Args:
        seed: a non-negative integer, or None for fresh entropy drawn once
            here (copies of this source in workers share it).

    Raises:
        ValueError: a seed that is not None or a non-negative integer.
    """

    def __init__(self, seed=None):
        seed = check_seed(seed)
        self.seed = int(np.random.SeedSequence().entropy) if seed is None else seed
        self._creator = os.getpid()
        self._pid = self._creator
        self._calls = 0
        self._lock = threading.Lock()

    def at(self, *key):
        """The generator of the draw `key` (such as `epoch, batch`)."""
        return batch_rng(self.seed, *key)

    def next(self):
        """The generator of this process's next keyless draw."""
        with self._lock:
            pid = os.getpid()
            if pid != self._pid:
                (self._pid, self._calls) = (pid, 0)
            call = self._calls
            self._calls += 1
        if pid == self._creator:
            return batch_rng(self.seed, STREAM, call)
        return batch_rng(self.seed, STREAM, call, pid)

    def generator(self, key=None):
        """`at(*key)` when a key is given, else `next()`."""
        return self.next() if key is None else self.at(*key)

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self):
        return f"RandomSource(seed={self.seed}, calls={self._calls})"


def continue_seed_state(model):
    """Sets Keras' seed states of a resumed `model` to where the run left them.

    Keras saves no `SeedGenerator` state: a loaded model's `Dropout` masks
    would restart at `[seed, 0]`, replaying the first epochs'. Each state
    becomes `[seed, steps]`, `steps` being the optimizer's iterations: the
    state after `steps` training steps of a layer called once per step (as
    `Dropout` in the book's networks). The seeds themselves are those drawn
    when the layers are built, so the same `keras.utils.set_random_seed` must
    precede the build and the load.

    Args:
        model: a compiled `keras.Model` loaded from a checkpoint.

    Returns:
        The number of seed states set.
    """
    import keras

    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return 0
    steps = int(keras.ops.convert_to_numpy(optimizer.iterations))
    count = 0
    for variable in model.non_trainable_variables:
        if variable.path.endswith("seed_generator_state"):
            state = np.array(keras.ops.convert_to_numpy(variable))
            state[-1] = steps
            variable.assign(state)
            count += 1
    return count
