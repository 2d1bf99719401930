"""Batches that travel from a worker process to the training process through shared memory.

Keras' process workers (`use_multiprocessing=True`) send each batch back as a
pickle through a pipe: the worker copies it into the pickle and the pipe, the
training process copies it out twice more. A `SharedBatch` pickles as the name
of a file in `/dev/shm` (RAM) holding its bytes: the worker writes them once,
the training process maps them and removes the file, with no further copy.

A segment's name carries the host, the receiving (owner) process and the
worker that wrote it: `pyimagesearch-batch-<host>-<owner pid>-<worker pid>-<random>`.
What a process that died (kill -9) left behind is removed by the next
shared-memory generator on the same host (`remove_dead_segments`), never the
segments of a live process; a dead worker's are removed at once by the
worker pool, and the owner's exit (Ctrl-C and, in the library's entry points,
SIGTERM included) removes those it never received.
"""

import atexit
import contextlib
import glob
import mmap
import os
import re
import tempfile

import numpy as np

from pyimagesearch.infra.orphans import host_tag, orphans

SHM_DIR = "/dev/shm"
_PREFIX = "pyimagesearch-batch-"
_SEGMENT = re.compile(r"^pyimagesearch-batch-(?P<host>[0-9a-f]{6})-(?P<owner>\d+)-(?P<worker>\d+)-[a-z0-9_]+$")


def shared_memory_available():
    """Whether this system has a writable `/dev/shm` (Linux)."""
    return os.path.isdir(SHM_DIR) and os.access(SHM_DIR, os.W_OK)


class SharedBatch(np.ndarray):
    """An ndarray that pickles through a shared-memory file; unpickles as a plain ndarray.

    Create one with `as_shared_batch(array, owner_pid)`; `owner_pid` is the
    process that will unpickle it, whose exit removes any file never read.
    """

    owner_pid = None

    def __reduce__(self):
        array = np.ascontiguousarray(self).view(np.ndarray)
        owner = self.owner_pid if self.owner_pid is not None else os.getpid()
        (fd, path) = tempfile.mkstemp(prefix=_segment_prefix(owner, os.getpid()), dir=SHM_DIR)
        try:
            data = memoryview(array.reshape(-1).view(np.uint8))
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        os.close(fd)
        return (attach_shared_batch, (path, array.shape, array.dtype.str))


def as_shared_batch(array, owner_pid):
    """Returns `array` viewed as a `SharedBatch` that the process `owner_pid` will receive."""
    batch = np.asarray(array).view(SharedBatch)
    batch.owner_pid = owner_pid
    return batch


class ReceiveFailed:
    """What a batch whose file could not be read unpickles as.

    Unpickling runs wherever the batch is received (a process pool's result
    thread, where an exception would stop the pool from delivering anything
    and leave `fit` waiting forever); this object instead reaches the
    receiver: `pyimagesearch.io.workerpool` raises its message.
    """

    def __init__(self, path, error):
        self.message = f"a worker's batch in {path!r} could not be received: {error}"

    def __repr__(self):
        return f"ReceiveFailed({self.message!r})"


def attach_shared_batch(path, shape, dtype):
    """Maps a pickled `SharedBatch`'s file (copy-on-write) and removes the file.

    Returns:
        A writable ndarray of `shape` and `dtype`, or a `ReceiveFailed` when
        the file cannot be read (never raises: see `ReceiveFailed`).
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                return np.empty(shape, dtype)
            buffer = mmap.mmap(handle.fileno(), size, flags=mmap.MAP_PRIVATE,
                               prot=mmap.PROT_READ | mmap.PROT_WRITE)
        return np.frombuffer(buffer, dtype=dtype).reshape(shape)
    except Exception as error:  # noqa: BLE001 - must not escape into the pool's thread
        return ReceiveFailed(path, error)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def segments(owner_pid, worker_pid=None):
    """The paths of this host's segments sent to `owner_pid` (by `worker_pid`, or by any worker)."""
    worker = "*" if worker_pid is None else f"{worker_pid}-"
    return glob.glob(os.path.join(SHM_DIR, f"{_PREFIX}{host_tag()}-{owner_pid}-{worker}*"))


def remove_leftovers(owner_pid, worker_pid=None):
    """Removes the segments sent to `owner_pid` (by `worker_pid`, or by any worker) never received."""
    for path in segments(owner_pid, worker_pid):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def remove_dead_segments():
    """Removes the segments of this host whose owner process is dead (`infra.orphans`).

    Returns:
        The paths removed.
    """
    removed = []
    for (entry, _) in orphans(SHM_DIR, _SEGMENT, owner="owner"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(entry.path)
    return removed


def _segment_prefix(owner_pid, worker_pid):
    return f"{_PREFIX}{host_tag()}-{owner_pid}-{worker_pid}-"


def clean_at_exit(owner_pid):
    """Registers `remove_leftovers(owner_pid)` to run once when process `owner_pid` exits.

    Calling it again replaces the registration: it runs once. A child that the
    owner forks inherits it and does nothing at its exit (the segments are its
    parent's, maybe still in flight).
    """
    atexit.unregister(_remove_leftovers_of_this_process)
    atexit.register(_remove_leftovers_of_this_process, owner_pid)


def _remove_leftovers_of_this_process(owner_pid):
    if os.getpid() == owner_pid:
        remove_leftovers(owner_pid)
