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
between the steps leaves a journal whose owner is dead; the next build and
every reader (`finish_publish`) roll it forward before doing anything else,
and the orphan cleanup never removes a file that a journal lists. Ctrl-C or
SIGTERM during steps 1-3 is deferred until the publish is finished.
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
from pyimagesearch.infra.locks import FolderBusyError, FolderLock

JOURNAL = atomic.JOURNAL


def _owner():
    return {"host": atomic.host_tag(), "hostname": socket.gethostname(), "pid": os.getpid(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}


def _read_json(path):
    """The JSON object in `path`, or None if there is no such file."""
    try:
        with open(path) as handle:
            content = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ValueError(f"{path!r} is damaged ({error}); remove it if no build is running.") from None
    if not isinstance(content, dict):
        raise ValueError(f"{path!r} is damaged (not a JSON object); remove it if no build is running.")
    return content


def _write_temporary(folder, name, content):
    """Writes `content` as JSON to a new temporary beside `folder/name`; returns its path."""
    handle, temporary = tempfile.mkstemp(
        prefix=f".{name.lstrip('.')}.{atomic.host_tag()}-{os.getpid()}.", suffix=".tmp", dir=folder)
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
    relative = lambda path: os.path.relpath(path, folder)  # noqa: E731 - the folder may move
    journal = {**_owner(), "moves": [[relative(t), relative(p)] for t, p in moves],
               "removals": [relative(p) for p in removals]}
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
                f"is complete on disk and its journal {JOURNAL!r} remains: the next build or reader "
                "of the folder finishes it.") from error


def finish_publish(folder, wait=30.0):
    """Completes a publish in `folder` that a killed process left unfinished.

    Readers call it before opening a file of a set: a live publisher is waited
    for (it takes milliseconds), a dead one's journal is rolled forward.

    Args:
        folder: the folder of the set.
        wait: seconds to wait for a live publisher.

    Raises:
        FolderBusyError: the publish is still unfinished after `wait` seconds.
    """
    folder = os.fspath(folder)
    deadline = time.monotonic() + wait
    while os.path.lexists(os.path.join(folder, JOURNAL)):
        try:
            with folder_lock(folder):
                return
        except FolderBusyError as busy:
            if time.monotonic() > deadline:
                raise FolderBusyError(
                    f"{folder!r} holds a set that is being published for more than {wait:.0f} s "
                    f"({busy})") from None
            time.sleep(0.05)


def _roll_forward(folder):
    """Completes the journal's renames and removals, then removes the journal."""
    path = os.path.join(folder, JOURNAL)
    journal = _read_json(path)
    if journal is None:
        return
    targets = set()
    for temporary, target in journal["moves"]:
        temporary, target = os.path.join(folder, temporary), os.path.join(folder, target)
        targets.add(os.path.normpath(target))
        if os.path.lexists(temporary):
            atomic.commit(temporary, target)
    for removal in journal["removals"]:
        removal = os.path.join(folder, removal)
        if os.path.normpath(removal) not in targets:
            with contextlib.suppress(FileNotFoundError):
                os.remove(removal)
    os.remove(path)


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
