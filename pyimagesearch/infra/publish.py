"""Publishing a set of files as one unit: a folder lock and a roll-forward journal.

A build holds its output folder's lock (`.pyimagesearch.lock`, created with
`os.link`, or an exclusive create where the file system has no hard links, so
only one process can hold it; it names the holder's host and pid) from its start to its end. It publishes its finished temporaries in
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

LOCK = ".pyimagesearch.lock"


class FolderBusyError(OSError):
    """Another process holds the folder's lock (a build or a publish in progress)."""


def _owner():
    return {"host": atomic.host_tag(), "hostname": socket.gethostname(), "pid": os.getpid(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}


def _describe(owner):
    return f"pid {owner.get('pid')} on host {owner.get('hostname')!r}, since {owner.get('since')}"


def _dead(owner):
    """Whether `owner` is a process of this host that no longer runs."""
    return owner.get("host") == atomic.host_tag() and not atomic.process_alive(int(owner.get("pid", 0)))


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


def acquire_lock(folder, purpose="build"):
    """Takes `folder`'s lock, taking over one left by a dead process of this host.

    A journal left by a dead process is rolled forward once the lock is held.

    Args:
        folder: the output folder (created if missing).
        purpose: what takes the folder ("build", "training run"), named in the
            refusal that another process meets.

    Returns:
        The lock's path (pass it to `release_lock`).

    Raises:
        FolderBusyError: a live process (or one of another host) holds the lock,
            named by its pid and host.
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    lock = os.path.join(folder, LOCK)
    mine = dict(_owner(), purpose=purpose)
    temporary = _write_temporary(folder, LOCK, mine)
    try:
        while True:
            try:
                _create_exclusively(temporary, lock, mine)
                break
            except FileExistsError:
                pass
            try:
                holder = _read_json(lock)
            except ValueError:
                if time.time() - _mtime(lock) > 5:
                    raise
                time.sleep(0.05)  # created without link() a moment ago: still being written
                continue
            if holder is None:
                continue  # released meanwhile
            if not _dead(holder):
                hint = "" if holder.get("host") == mine["host"] else (
                    f"; if that process is gone, remove {lock!r}")
                raise FolderBusyError(
                    f"{folder!r} is in use by another {holder.get('purpose', 'build')} "
                    f"({_describe(holder)}): wait for it to finish or choose another folder{hint}.")
            _take_over(lock, holder)
    finally:
        os.remove(temporary)
    try:
        _roll_forward(folder)
    except BaseException:
        release_lock(lock)
        raise
    return lock


def _create_exclusively(temporary, lock, content):
    """Creates `lock` holding `content`, atomically with `link` where the file system allows.

    Raises:
        FileExistsError: `lock` exists.
    """
    try:
        os.link(temporary, lock)
        return
    except FileExistsError:
        raise
    except OSError:  # no hard links here (exFAT, some network file systems): exclusive create
        pass
    handle = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(handle, "w") as stream:
        json.dump(content, stream)


def _mtime(path):
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return time.time()


def _take_over(lock, holder):
    """Removes the lock of the dead `holder`, unless another process replaced it meanwhile."""
    aside = f"{lock}.{atomic.host_tag()}-{os.getpid()}.stale"
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return
    if _read_json(aside) != holder:  # a live process took it over first: give it back
        with contextlib.suppress(OSError):
            os.link(aside, lock)
    os.remove(aside)


def release_lock(lock):
    """Removes a lock taken by `acquire_lock`."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(lock)


@contextlib.contextmanager
def folder_lock(folder):
    """Holds `folder`'s lock within the block (see `acquire_lock`)."""
    lock = acquire_lock(folder)
    try:
        yield lock
    finally:
        release_lock(lock)


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
        live = journal["host"] == atomic.host_tag() and isinstance(journal["pid"], int) and (
            atomic.process_alive(journal["pid"]))
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
