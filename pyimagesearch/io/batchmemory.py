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
import weakref

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
            dtype: the array's dtype.

        Returns:
            A C-contiguous, writable `numpy.ndarray`.
        """
        dtype = np.dtype(dtype)
        shape = tuple(int(n) for n in shape)
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        idle = self._idle[size]
        try:
            buffer = idle.pop()
        except IndexError:
            buffer = np.empty(size, np.uint8)
        lease = _Lease(buffer, shape, dtype)
        weakref.finalize(lease, _give_back, idle, buffer, self.keep).atexit = False
        return np.asarray(lease)

    def idle(self):
        """Returns the number of idle buffers kept (all sizes)."""
        return sum(len(buffers) for buffers in list(self._idle.values()))


class _Lease:
    """The NumPy base of the arrays made on one buffer; its death gives the buffer back."""

    __slots__ = ("__array_interface__", "_buffer", "__weakref__")

    def __init__(self, buffer, shape, dtype):
        self._buffer = buffer
        self.__array_interface__ = {
            "shape": shape, "typestr": dtype.str, "descr": dtype.descr,
            "data": (buffer.ctypes.data, False), "version": 3,
        }


def _give_back(idle, buffer, keep):
    if len(idle) < keep:
        idle.append(buffer)
