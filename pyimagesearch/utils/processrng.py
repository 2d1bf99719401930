"""A numpy random generator of its own in every process, for worker processes.

Keras' process workers (`use_multiprocessing=True`) fork the main process, or
unpickle a copy of the dataset under spawn, and every worker starts from the
same copy of each random generator: without care, sibling workers draw the
same patches and the same augmentations.
"""

import os
import threading

import numpy as np

_rederive_lock = threading.Lock()


def _new_rederive_lock():
    global _rederive_lock
    _rederive_lock = threading.Lock()


# a thread of the parent may hold the lock at the fork: the child gets a free one
os.register_at_fork(after_in_child=_new_rederive_lock)


class ProcessLocalRNG:
    """Gives a `numpy.random.Generator` of the current process.

    In the process that created it, `generator()` is `np.random.default_rng(seed)`
    and its stream is exactly that generator's. In any other process (a forked
    or spawned worker holding a copy) it is replaced, once per process, by a
    generator derived from the original seed (not the current state) and the
    process id, or from fresh entropy when `seed` is None, so sibling workers
    draw different numbers. Pickled copies (spawned workers) behave the same.
    The check costs one `os.getpid()` comparison per call.

    Args:
        seed: what `np.random.default_rng` accepts (None: fresh entropy).
    """

    def __init__(self, seed=None):
        self._generator = np.random.default_rng(seed)
        self._pid = os.getpid()
        self._material = None if seed is None else _seed_material(self._generator)

    def generator(self):
        """Returns the generator of the current process.

        Returns:
            A `numpy.random.Generator`.
        """
        if self._pid != os.getpid():
            self._rederive()
        return self._generator

    def _rederive(self):
        with _rederive_lock:
            pid = os.getpid()
            if self._pid == pid:
                return
            seed = None if self._material is None else [*self._material, pid]
            self._generator = np.random.default_rng(seed)
            self._pid = pid

    def __repr__(self):
        return f"ProcessLocalRNG(pid={self._pid}, seeded={self._material is not None})"


def _seed_material(generator):
    """The generator's original seed (not its current state), hashed to 4 words.

    None for a legacy-seeded bit generator, which keeps no seed sequence.
    """
    sequence = getattr(generator.bit_generator, "seed_seq", None)
    if not hasattr(sequence, "generate_state"):
        return None
    return tuple(int(word) for word in sequence.generate_state(4))
