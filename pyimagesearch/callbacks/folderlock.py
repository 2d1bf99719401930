"""One training run per output folder, through the folder lock that builds take too.

`EpochCheckpoint` and `TrainingMonitor` take their folders when training
begins, so two runs writing checkpoints or a history into one folder cannot
mix their files: the second one stops with one line naming the first. The
lock is the one `build_hdf5_splits` holds (`pyimagesearch.infra.publish`:
`.pyimagesearch.lock`, created atomically, naming the holder's host, pid and
purpose); a lock left by a killed process of this host is taken over.
"""

import atexit
import contextlib
import os

from pyimagesearch.infra.publish import FolderBusyError, acquire_lock, release_lock

# The error a second run meets (a build meets the same one).
FolderInUseError = FolderBusyError

# the folders this process holds: {lock path: [users, created]}. A process is
# one run: its callbacks share the folders they both write into.
_HELD = {}


def take_folder(folder):
    """Takes `folder` for this process (reentrant: the same process may take it again).

    Args:
        folder: the output folder (created if missing, and removed again by
            the last `release_folder` if it is still empty).

    Returns:
        The lock file's path; pass it to `release_folder` when done.

    Raises:
        FolderInUseError: another live process holds the folder.
    """
    folder = os.path.abspath(os.fspath(folder))
    created = not os.path.isdir(folder)
    for path, held in _HELD.items():
        if os.path.dirname(path) == folder:
            held[0] += 1
            return path
    try:
        path = acquire_lock(folder, purpose="training run")
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        raise
    _HELD[path] = [1, created]
    return path


def release_folder(path):
    """Gives back one `take_folder` of this process; the last one removes the lock file.

    Args:
        path: what `take_folder` returned.
    """
    held = _HELD.get(path)
    if held is None:
        return
    held[0] -= 1
    if held[0] > 0:
        return
    del _HELD[path]
    release_lock(path)
    if held[1]:
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(path))  # only if empty


@atexit.register
def release_all():
    """Gives back every folder this process holds (at exit, or before an `os._exit`)."""
    for path in list(_HELD):
        _HELD[path][0] = 1
        release_folder(path)
