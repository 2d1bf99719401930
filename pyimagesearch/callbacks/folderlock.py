"""One training run per output folder, through the folder lock that builds take too.

`EpochCheckpoint` and `TrainingMonitor` hold their folders while training, so
two runs writing checkpoints or a history into one folder cannot mix their
files: the second one stops with one line naming the first. The lock is
`pyimagesearch.infra.locks.FolderLock`, the one `build_hdf5_splits` holds;
the system releases it when its holder ends, a kill -9 included.

Whoever owns the run may create the lock and hand it to both callbacks
(`lock=`); a callback given none makes its own for its folder.
"""

import os

from pyimagesearch.infra.locks import FolderBusyError, FolderLock

# The error a second run meets (a build meets the same one).
FolderInUseError = FolderBusyError


def lock_for(folder, lock=None):
    """The lock a callback holds for `folder`: `lock` when it is that folder's, else a new one.

    Args:
        folder: the folder the callback writes into.
        lock: a `FolderLock` handed by the run's owner, or None.

    Returns:
        A `FolderLock` of `folder` (not yet acquired).

    Raises:
        TypeError: `lock` is not a `FolderLock`.
    """
    if lock is not None and not isinstance(lock, FolderLock):
        raise TypeError(f"lock must be a pyimagesearch.infra.locks.FolderLock, got {type(lock).__name__}.")
    if lock is not None and lock.folder == os.path.abspath(os.fspath(folder)):
        return lock
    return FolderLock(folder, purpose="training run")
