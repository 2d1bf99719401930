"""Memory for batches, reused once nothing views a batch any more.

A 10 MB batch built in a worker thread and dropped by the training loop is
memory that glibc's per-thread heap hands back to the kernel, so the next
batch lands in fresh pages, and with two threads their page faults cost more
than the copy itself (measured in `benchmarks/bench_pipeline.py`). A
`BatchMemory` keeps such buffers instead: the arrays it hands out view a
buffer it owns, through a small lease object that is their NumPy `base`;
when the last array viewing the lease is gone, the buffer goes back to the
idle ones, to be handed out again.
"""

import collections
import math

import numpy as np


class BatchMemory:
    """Hands out arrays whose buffers are reused once no array views them.

    An array from `empty` is an ordinary NumPy array: slices, views and
    tensors made from it without a copy keep its buffer alive (they hold a
    reference), and the buffer is reused only after all of them are gone.

    Args:
        keep: the most idle buffers kept per size; a buffer given back when
            `keep` are idle is freed.
    """

    def __init__(self, keep):
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise ValueError(f"keep must be a non-negative integer, got {keep!r}.")
        self.keep = keep
        # deque appends and pops are atomic: threads and finalizers need no lock
        self._idle = collections.defaultdict(collections.deque)

    def empty(self, shape, dtype=np.uint8):
        """Returns an uninitialised array of `shape` and `dtype`, on a reused buffer when one is idle.

        Args:
            shape: the array's shape.
            dtype: the array's dtype, a number type (booleans, integers,
                floats, complex).

        Returns:
            A C-contiguous, writable `numpy.ndarray`.

        Raises:
            ValueError: `dtype` is not a number type.
        """
        dtype = np.dtype(dtype)
        if dtype.kind not in "biufc":
            raise ValueError(f"dtype must be a number type, got {dtype}.")
        shape = tuple(map(int, shape))
        size = math.prod(shape) * dtype.itemsize
        idle = self._idle[size]
        try:
            buffer = idle.pop()
        except IndexError:
            buffer = np.empty(size, np.uint8)
        return np.asarray(_Lease(buffer, shape, dtype.str, idle, self.keep))

    def idle(self):
        """Returns the number of idle buffers kept (all sizes)."""
        return sum(len(buffers) for buffers in list(self._idle.values()))

    def __getstate__(self):
        return {"keep": self.keep}  # idle buffers are memory, not state: a copy starts with none

    def __setstate__(self, state):
        self.__init__(state["keep"])


class _Lease:
    """The NumPy base of the arrays made on one buffer; its end gives the buffer back.

    `__del__` runs when the last array viewing the lease is gone (CPython
    frees an object when its last reference goes).
    """

    __slots__ = ("__array_interface__", "_buffer", "_idle", "_keep")

    def __init__(self, buffer, shape, typestr, idle, keep):
        (self._buffer, self._idle, self._keep) = (buffer, idle, keep)
        self.__array_interface__ = {"shape": shape, "typestr": typestr,
                                    "data": (buffer.ctypes.data, False), "version": 3}

    def __del__(self):
        if len(self._idle) < self._keep:
            self._idle.append(self._buffer)
