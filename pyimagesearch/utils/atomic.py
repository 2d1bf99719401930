"""Atomic file output: write beside the target, rename into place on success.

Temporary files are named `.{target}.{host}-{pid}.{random}.tmp{suffix}`, so
those left by a process that died (kill -9, power loss) are recognisable: the
next atomic write into the same folder removes them, never those of a live
process.
"""

import contextlib
import hashlib
import os
import re
import socket
import tempfile

_TEMPORARY = re.compile(r"^\..+\.(?P<host>[0-9a-f]{6})-(?P<pid>\d+)\.[a-z0-9_]+\.tmp")


@contextlib.contextmanager
def atomic_output(path, suffix=None):
    """Yields a temporary path in `path`'s folder; renames it to `path` on success.

    If the body raises, the temporary file is removed and `path` is left as it
    was, so readers never see a half-written file.

    Args:
        path: the final file path.
        suffix: suffix of the temporary file (defaults to `path`'s extension,
            which some writers, such as `keras.Model.save`, require).

    Yields:
        The temporary path to write to.
    """
    temporary = new_temporary(path, suffix)
    try:
        yield temporary
        commit(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def new_temporary(path, suffix=None):
    """Creates an empty temporary file beside `path`, named after this process.

    Also removes the temporaries that dead processes left in that folder.

    Args:
        path: the final file path.
        suffix: suffix of the temporary file (defaults to `path`'s extension).

    Returns:
        The temporary file's path; the caller renames or removes it.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_orphans(folder)
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    handle, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.{_host_tag()}-{os.getpid()}.",
        suffix=f".tmp{suffix}", dir=folder,
    )
    os.close(handle)
    return temporary


def commit(temporary, path):
    """Renames a finished temporary onto `path`, with the usual file permissions."""
    os.chmod(temporary, 0o666 & ~_current_umask())
    os.replace(temporary, path)


def remove_orphans(folder, exiting=False):
    """Removes the temporary files in `folder` whose writing process is dead.

    Only files named by `new_temporary` on this host are considered; those of
    live processes (and of other hosts sharing the folder) are kept.

    Args:
        folder: the folder to clean.
        exiting: also remove this process's own (it is about to exit
            without unwinding, see `pyimagesearch.distribute`).

    Returns:
        The paths removed.
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    host = _host_tag()
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None or match["host"] != host:
            continue
        if _alive(int(match["pid"])) and not (exiting and int(match["pid"]) == os.getpid()):
            continue
        path = os.path.join(folder, name)
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
            removed.append(path)
    return removed


def publish_together(moves, removals=()):
    """Renames finished temporaries onto their targets as one unit.

    The current targets (and `removals`) are first renamed aside; if any
    rename fails or is interrupted, the new files are removed and the old
    ones are put back, so the set stays the old one, whole.

    Args:
        moves: `(temporary, target)` pairs.
        removals: existing paths that the new set does not have.

    Raises:
        OSError: a rename failed (the old set is restored).
    """
    moves = [(os.fspath(temporary), os.fspath(target)) for temporary, target in moves]
    aside = []
    placed = []
    try:
        for target in [target for _, target in moves] + [os.fspath(p) for p in removals]:
            if os.path.lexists(target):
                backup = _unused_name(target)
                os.replace(target, backup)
                aside.append((backup, target))
        for temporary, target in moves:
            commit(temporary, target)
            placed.append(target)
    except BaseException:
        for target in placed:
            with contextlib.suppress(OSError):
                os.remove(target)
        for backup, target in reversed(aside):
            os.replace(backup, target)
        for temporary, _ in moves:
            with contextlib.suppress(OSError):
                os.remove(temporary)
        raise
    for backup, _ in aside:
        with contextlib.suppress(OSError):
            os.remove(backup)


def _unused_name(path):
    """A fresh temporary name beside `path` (no file is created)."""
    folder, name = os.path.split(os.path.abspath(path))
    random = next(tempfile._get_candidate_names())  # noqa: SLF001 - mkstemp's own names
    return os.path.join(folder, f".{name}.{_host_tag()}-{os.getpid()}.{random}.tmp.old")


def _alive(pid):
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _host_tag():
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
