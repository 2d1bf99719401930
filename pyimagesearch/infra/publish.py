"""Publishing a set of files as one unit: a folder lock and a roll-forward journal.

A build holds its output folder's lock (`pyimagesearch.infra.locks.FolderLock`:
filelock's lock on `.pyimagesearch.lock`, released by the system when its
holder ends) from its start to its end. It publishes its finished temporaries in
three steps:

1. the journal `.pyimagesearch.publish` (the temporaries, their targets and the
   files to remove) is written under a temporary name and renamed into place:
   this rename is the commit point;
2. each temporary is renamed onto its target, the files to remove are removed;
3. the journal is removed.

Before the commit point the old set is untouched; after it the new set is
complete on disk (under temporary names until renamed). A process killed
between the steps leaves a journal whose owner is dead; only the writer's side
rolls it forward (the next build, `finish_publish`, the command `pyimagesearch
repair FOLDER`). A reader never does: it refuses the folder in one line naming
that command (`refuse_unfinished_publish`). The orphan cleanup never removes a
file that a journal lists, and every journal is checked before it is acted on
(`pyimagesearch.infra.journal`: bare file names of the library's kinds inside
its own folder). Ctrl-C or SIGTERM during steps 1-3 is deferred until the
publish is finished.
"""

import contextlib
import json
import os
import signal
import socket
import tempfile
import threading
import time

from pyimagesearch.infra import atomic
from pyimagesearch.infra.journal import JOURNAL, read_journal
from pyimagesearch.infra.locks import FolderBusyError, FolderLock
from pyimagesearch.infra.orphans import host_tag, process_alive


def _owner():
    return {"host": host_tag(), "hostname": socket.gethostname(), "pid": os.getpid(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}


def _write_temporary(folder, name, content):
    """Writes `content` as JSON to a new temporary beside `folder/name`; returns its path."""
    handle, temporary = tempfile.mkstemp(
        prefix=f".{name.lstrip('.')}.{host_tag()}-{os.getpid()}.", suffix=".tmp", dir=folder)
    with os.fdopen(handle, "w") as stream:
        json.dump(content, stream)
        stream.flush()
        os.fsync(stream.fileno())
    return temporary


@contextlib.contextmanager
def folder_lock(folder):
    """Holds `folder`'s lock (`pyimagesearch.infra.locks.FolderLock`) within the block.

    A journal left by a dead process is rolled forward once the lock is held.

    Raises:
        FolderBusyError: another process holds the lock, named by its pid and host.
    """
    with FolderLock(folder, purpose="build") as lock:
        _roll_forward(os.fspath(folder))
        yield lock


def publish_set(folder, moves, removals=(), overwrite=True):
    """Renames finished temporaries onto their targets as one unit; the caller holds the lock.

    Args:
        folder: the locked folder (its journal lives there).
        moves: `(temporary, target)` pairs.
        removals: existing files that the new set does not have.
        overwrite: False refuses targets that exist now (written by a process
            that does not take the lock while this one ran).

    Raises:
        FileExistsError: `overwrite` is False and a target exists (nothing is published).
    """
    folder = os.fspath(folder)
    moves = [(os.fspath(temporary), os.fspath(target)) for temporary, target in moves]
    removals = [os.fspath(path) for path in removals]
    if not overwrite:
        for path in [target for _, target in moves] + removals:
            if os.path.lexists(path):
                raise FileExistsError(
                    f"output {path!r} appeared while this build ran (written by a process that does "
                    f"not lock {folder!r}); nothing was published: delete it or pass overwrite=True "
                    "(--overwrite).")
    for _, target in moves:
        if os.path.isdir(target) and not os.path.islink(target):
            raise IsADirectoryError(f"output {target!r} is a folder; expected a file path.")
    here = os.path.abspath(folder)
    for path in [name for move in moves for name in move] + removals:
        if os.path.dirname(os.path.abspath(path)) != here:
            raise ValueError(f"{path!r} is not a file directly inside {folder!r}: a publish "
                             "renames and removes files of its own folder only.")
    journal = {**_owner(), "moves": [[os.path.basename(t), os.path.basename(p)] for t, p in moves],
               "removals": [os.path.basename(p) for p in removals]}
    with _signals_deferred():
        staged = _write_temporary(folder, JOURNAL, journal)
        try:
            os.replace(staged, os.path.join(folder, JOURNAL))  # the commit point
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(staged)
            raise
        try:
            _roll_forward(folder)
        except OSError as error:
            raise OSError(
                f"publishing into {folder!r} stopped after its commit point ({error}); the new set "
                f"is complete on disk and its journal {JOURNAL!r} remains: the next build or "
                f"`pyimagesearch repair {folder}` finishes it.") from error


class UnfinishedPublishError(OSError):
    """A folder holds a set whose publish a killed build left unfinished; readers refuse it."""


def finish_publish(folder, wait=30.0):
    """Completes a publish in `folder` that a killed process left unfinished (the writer's side).

    What `pyimagesearch repair FOLDER` runs: the folder's lock is taken and
    the journal rolled forward; a live publisher is waited for (it takes
    milliseconds). Readers never call it (`refuse_unfinished_publish`).

    Args:
        folder: the folder of the set.
        wait: seconds to wait for a live publisher.

    Returns:
        Whether a journal was found (and completed).

    Raises:
        FolderBusyError: the publish is still unfinished after `wait` seconds.
        pyimagesearch.infra.journal.JournalError: the journal is refused.
    """
    folder = os.fspath(folder)
    deadline = time.monotonic() + wait
    found = False
    while os.path.lexists(os.path.join(folder, JOURNAL)):
        found = True
        read_journal(folder)  # a refused journal is named before the lock is even taken
        try:
            with folder_lock(folder):
                return found
        except FolderBusyError as busy:
            if time.monotonic() > deadline:
                raise FolderBusyError(
                    f"{folder!r} holds a set that is being published for more than {wait:.0f} s "
                    f"({busy})") from None
            time.sleep(0.05)
    return found


def refuse_unfinished_publish(folder, wait=5.0):
    """Refuses a folder whose set is not fully published; reads only (the reader's side).

    A live publisher on this host (a publish takes milliseconds) is waited
    for up to `wait` seconds by looking, never by locking; a journal left by
    a killed build is refused, naming the command that completes it.

    Args:
        folder: the folder of the set.
        wait: seconds to wait for a live publisher of this host.

    Raises:
        UnfinishedPublishError: a journal remains, naming `folder` and the
            command `pyimagesearch repair FOLDER`.
        pyimagesearch.infra.journal.JournalError: the journal is malformed or
            names files outside its folder.
    """
    folder = os.fspath(folder)
    deadline = time.monotonic() + wait
    while True:
        journal = read_journal(folder)
        if journal is None:
            return
        live = journal["host"] == host_tag() and isinstance(journal["pid"], int) and (
            process_alive(journal["pid"]))
        if not live or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise UnfinishedPublishError(
        f"{folder!r} holds a set whose publish was not finished (its journal {JOURNAL!r}, by pid "
        f"{journal['pid']}): a reader does not complete it; run `pyimagesearch repair {folder}` "
        "(or the next build into that folder), then read again.")


def _roll_forward(folder):
    """Completes the journal's renames and removals, then removes the journal.

    The journal is checked first (`read_journal`): one it refuses is left, and
    nothing is touched. Temporaries are opened without following links.
    """
    journal = read_journal(folder)
    if journal is None:
        return
    targets = set()
    for temporary, target in journal["moves"]:
        targets.add(os.path.normpath(target))
        if os.path.lexists(temporary):
            _commit_no_follow(temporary, target)
    for removal in journal["removals"]:
        if os.path.normpath(removal) not in targets:
            with contextlib.suppress(FileNotFoundError):
                os.remove(removal)
    os.remove(journal["path"])


def _commit_no_follow(temporary, target):
    """`atomic.commit`, with the mode set through a descriptor that no link can redirect."""
    handle = os.open(temporary, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fchmod(handle, 0o666 & ~atomic._current_umask())
    finally:
        os.close(handle)
    os.replace(temporary, target)


@contextlib.contextmanager
def _signals_deferred():
    """Holds SIGINT and SIGTERM until the block ends, then delivers them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    previous = {number: handler for number, handler in previous.items() if handler is not None}
    for number in previous:
        signal.signal(number, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in received:
            signal.raise_signal(number)
