"""Atomic file output: write beside the target, rename into place on success.

Temporary files are named `.{target}.{host}-{pid}.{random}.tmp{suffix}`, so
those left by a process that died (kill -9, power loss) are recognisable: the
next atomic write into the same folder removes them, never those of a live
process.
"""

import contextlib
import os
import re
import tempfile

from pyimagesearch.infra.journal import JOURNAL, JournalError, read_journal  # noqa: F401 - atomic.JOURNAL kept for its callers
from pyimagesearch.infra.orphans import host_tag, orphans

_TEMPORARY = re.compile(r"^\..+\.(?P<host>[0-9a-f]{6})-(?P<pid>\d+)\.[a-z0-9_]+\.tmp")  # see infra.orphans


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
        prefix=f".{os.path.basename(path)}.{host_tag()}-{os.getpid()}.",
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

    Only regular files named by `new_temporary` on this host are considered;
    those of live processes (and of other hosts sharing the folder), those that
    an unfinished publish lists (see `pyimagesearch.infra.publish`) and an
    earlier version's `.tmp.old` backups are kept, and a file that cannot be
    removed is left where it is.

    Args:
        folder: the folder to clean.
        exiting: also remove this process's own (it is about to exit
            without unwinding, see `pyimagesearch.distribute`).

    Returns:
        The paths removed.
    """
    (removed, published) = ([], ())  # the journal: not read yet
    for (entry, _) in orphans(folder, _TEMPORARY, own=exiting):
        if entry.name.endswith(".tmp.old") or not entry.is_file(follow_symlinks=False):
            continue  # an earlier version's backup may be a set's only copy; never a folder
        if published == ():
            published = journal_files(folder)
        path = os.path.normpath(entry.path)
        if published is None or path in published:
            continue  # an unfinished publish's new file: the next build or a repair places it
        with contextlib.suppress(OSError):
            os.remove(path)
            removed.append(path)
    return removed


def journal_files(folder):
    """The temporaries that `folder`'s publish journal lists; None if it is damaged.

    An unfinished publish's new files are the only copy of the new set: the
    orphan cleanup keeps them (all temporaries, when the journal is damaged).
    """
    try:
        journal = read_journal(folder)
    except JournalError:
        return None
    if journal is None:
        return set()
    return {os.path.normpath(temporary) for temporary, _ in journal["moves"]}


def own_temporaries(folder):
    """The temporary files in `folder` that this process is writing (`new_temporary`'s names).

    Args:
        folder: a folder.

    Returns:
        Their paths (none when the folder does not exist).
    """
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    mine = (host_tag(), str(os.getpid()))
    found = []
    for name in names:
        match = _TEMPORARY.match(name)
        if match is not None and (match["host"], match["pid"]) == mine:
            found.append(os.path.join(folder, name))
    return found


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
