"""One training run per output folder: a lock file that names the run holding it.

`EpochCheckpoint` and `TrainingMonitor` take their folders when training
begins, so two runs writing checkpoints or a history into one folder cannot
mix their files: the second one stops with one line naming the first.
The lock is `.pyimagesearch.lock` in the folder; it holds the host and
process id of its run and an operating-system lock (`flock`), which dies
with the process: a lock file left by a killed run is taken over.
"""

import atexit
import contextlib
import os
import socket

from pyimagesearch.utils.atomic import _alive

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

LOCK_NAME = ".pyimagesearch.lock"

# the folders this process holds: {lock path: [open file, users, created]}. A
# process is one run: its callbacks share the folders they both write into.
_HELD = {}


class FolderInUseError(OSError):
    """Another live process holds the output folder."""


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
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK_NAME)
    if path in _HELD:
        _HELD[path][1] += 1
        return path
    while True:
        handle = open(path, "a+")
        if not _try_lock(handle):
            holder = _holder(handle)
            handle.close()
            raise FolderInUseError(
                f"folder {folder!r} is used by another training run ({holder}); "
                f"wait for it to end or write to another folder (lock: {path!r})."
            )
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(handle.fileno()), os.stat(path)):
                break  # not unlinked by a releasing holder meanwhile
        handle.close()
    handle.seek(0)
    handle.truncate()
    handle.write(f"host {socket.gethostname()} pid {os.getpid()}\n")
    handle.flush()
    _HELD[path] = [handle, 1, created]
    return path


def release_folder(path):
    """Gives back one `take_folder` of this process; the last one removes the lock file.

    Args:
        path: what `take_folder` returned.
    """
    held = _HELD.get(path)
    if held is None:
        return
    held[1] -= 1
    if held[1] > 0:
        return
    del _HELD[path]
    with contextlib.suppress(OSError):
        os.remove(path)
    held[0].close()
    if held[2]:
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(path))  # only if empty


def _try_lock(handle):
    try:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _holder(handle):
    """What the lock file says of its holder: `host H pid P`."""
    text = ""
    with contextlib.suppress(OSError):
        handle.seek(0)
        text = " ".join(handle.read().split())
    if not text:
        return "a process that has not yet written its id"
    fields = text.split()
    if (len(fields) == 4 and fields[1] == socket.gethostname() and fields[3].isdigit()
            and not _alive(int(fields[3]))):
        return f"{text}, which has ended: a child process of it still holds the lock"
    return text


@atexit.register
def _release_all():
    for path in list(_HELD):
        _HELD[path][1] = 1
        release_folder(path)
