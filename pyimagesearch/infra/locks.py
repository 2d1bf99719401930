"""One process per output folder: the lock that builds and training runs take.

The lock is `filelock`'s (`flock` on Linux and macOS) on `.pyimagesearch.lock`
in the folder. The operating system releases it when its holder ends, however
it ends (a kill -9 included), so there is nothing to take over: a folder is
busy exactly while a live process (or a child it forked) holds it. Two hosts
exclude each other where the file system's `flock` spans hosts (NFSv4, Lustre,
CephFS; not NFSv3 without a lock daemon).

The lock file stays in the folder after a release, empty: removing a locked
path lets a second process lock a new file of the same name while a third
still holds the old one (filelock keeps it for that reason). Its holder writes
into it who holds the lock (host, pid, the process's start time, since when,
for what), only for the message a refused process shows: the record never
decides who holds the lock, so a stale or damaged one (a killed holder's, a
reused pid's, another host's) is simply overwritten. (filelock releases before
4.x truncate the file on every attempt: there a refused process may find the
record empty, and its message then names the lock file only.)

A lock is held while its `FolderLock` lives: keep a reference.

Whoever owns a run creates one `FolderLock` and hands it to what writes into
the folder (`TrainingMonitor(..., lock=)`, `EpochCheckpoint(..., lock=)`); a
`FolderLock` is reentrant, and locks of one process on one path share their
state (filelock's `is_singleton`), so two callbacks of one run writing into one
folder never refuse each other.
"""

import contextlib
import json
import os
import socket
import time

import filelock

from pyimagesearch.infra.orphans import host_tag

LOCK = ".pyimagesearch.lock"

# the largest pid Linux can give (PID_MAX_LIMIT on 64-bit); larger is no pid
_PID_MAX = 2 ** 22


class FolderBusyError(OSError):
    """Another process holds the folder's lock (a build or a training run in progress)."""


def process_start_time(pid):
    """When process `pid` started, in clock ticks since boot (Linux), or None.

    Args:
        pid: a process id.

    Returns:
        An int, or None where `/proc` does not say (no such process, not Linux).
    """
    try:
        with open(f"/proc/{int(pid)}/stat") as handle:
            stat = handle.read()
    except (OSError, ValueError, OverflowError):
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ")"
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[19])  # field 22, starttime


class FolderLock:
    """The lock of one output folder, named by whoever holds it.

    Args:
        folder: the folder (created by `acquire` if missing).
        purpose: what takes the folder ("build", "training run"), named in
            the refusal that another process meets.

    Example:

    ```python
    lock = FolderLock("output", purpose="training run")
    callbacks = [TrainingMonitor("output/plot.png", lock=lock),
                 EpochCheckpoint("output", lock=lock)]
    ```
    """

    def __init__(self, folder, purpose="build"):
        self.folder = os.path.abspath(os.fspath(folder))
        self.purpose = purpose
        self.path = os.path.join(self.folder, LOCK)
        self._lock = None

    @property
    def held(self):
        """Whether this process holds the lock."""
        return self._lock is not None and self._lock.is_locked

    def acquire(self):
        """Takes the lock (again, if this process holds it: each `acquire` needs a `release`).

        Returns:
            This lock.

        Raises:
            FolderBusyError: another process holds it, named by its host and pid.
        """
        os.makedirs(self.folder, exist_ok=True)
        if self._lock is None:
            self._lock = filelock.FileLock(self.path, thread_local=False, is_singleton=True)
        first = not self._lock.is_locked
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            raise FolderBusyError(self._busy_message()) from None
        if first:
            self._write_holder()
        return self

    def release(self):
        """Gives back one `acquire`; the last one empties the record and unlocks."""
        if not self.held:
            return
        if self._lock.lock_counter == 1:
            with contextlib.suppress(OSError), open(self.path, "r+") as stream:
                stream.truncate(0)
        self._lock.release()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()

    def _write_holder(self):
        holder = {"host": host_tag(), "hostname": socket.gethostname(), "pid": os.getpid(),
                  "started": process_start_time(os.getpid()), "purpose": self.purpose,
                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        with open(self.path, "r+") as stream:  # the lock is ours: no other writer
            stream.truncate(0)
            json.dump(holder, stream)

    def _busy_message(self):
        clear = (f"the lock is released when that process ends (`fuser -v {self.path}` names it); "
                 f"wait for it or choose another folder")
        try:
            with open(self.path) as handle:
                text = handle.read()
            if not text:
                return f"{self.folder!r} is in use by another process (it has not named itself yet): {clear}."
            holder = json.loads(text)
        except (OSError, ValueError) as error:
            problem = error
        else:
            problem = _implausible(holder)
        if problem:
            return (f"{self.folder!r} is in use by another process whose record in the lock file "
                    f"{self.path!r} is damaged ({problem}): {clear}.")
        who = (f"pid {holder['pid']} on host {holder.get('hostname')!r}, since {holder.get('since')}")
        if holder.get("host") == host_tag() and (
                holder.get("started") is not None and process_start_time(holder["pid"]) != holder["started"]):
            return (f"{self.folder!r} is in use by another process; the record in the lock file "
                    f"{self.path!r} names {who}, which has ended (a newer holder has not named "
                    f"itself yet): {clear}.")
        return (f"{self.folder!r} is in use by another {holder.get('purpose', 'build')} ({who}): "
                f"wait for it to finish or choose another folder.")


def _implausible(holder):
    """What is wrong with a holder record, or None."""
    if not isinstance(holder, dict):
        return "not a JSON object"
    pid = holder.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= _PID_MAX:
        return f"pid {pid!r} is no process id"
    return None
