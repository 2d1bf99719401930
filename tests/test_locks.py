"""The folder lock (`pyimagesearch.infra.locks`): one holder, named, released by the system."""

import json
import multiprocessing
import os
import socket
import subprocess
import sys

import pytest

from pyimagesearch.infra import orphans, publish
from pyimagesearch.infra.locks import LOCK, FolderBusyError, FolderLock

_HOLD = """
import sys
from pyimagesearch.infra.locks import FolderLock
lock = FolderLock(sys.argv[1], purpose="training run").acquire()
print("held", flush=True)
sys.stdin.read()
"""

_TRY = """
import sys
from pyimagesearch.infra.locks import FolderBusyError, FolderLock
try:
    FolderLock(sys.argv[1]).acquire()
except FolderBusyError as busy:
    print(busy)
    sys.exit(3)
"""


def _env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))


def _dead_pid():
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, timeout=60, check=True)
    return int(child.stdout)


def _try_elsewhere(folder):
    """`(exit status, output)` of another process's attempt at `folder`'s lock."""
    attempt = subprocess.run([sys.executable, "-c", _TRY, str(folder)], env=_env(),
                             capture_output=True, text=True, timeout=60)
    return attempt.returncode, attempt.stdout.strip()


@pytest.fixture
def held(tmp_path):
    """A folder whose lock another process holds; yields `(folder, that process)`."""
    folder = tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder)], env=_env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        yield folder, holder
    finally:
        holder.kill()
        holder.wait(timeout=60)


def _plant(folder, record):
    """Writes `record` where a holder's name is kept: the lock file."""
    folder.mkdir(exist_ok=True)
    (folder / LOCK).write_text(json.dumps(record))


def test_a_lock_file_from_another_host_whose_pid_is_dead_here_is_taken(tmp_path):
    _plant(tmp_path, {"host": "ffffff", "hostname": "elsewhere", "pid": _dead_pid(), "since": "yesterday"})
    with publish.folder_lock(tmp_path):
        holder = json.loads((tmp_path / LOCK).read_text())
        assert holder["pid"] == os.getpid() and holder["hostname"] == socket.gethostname()


def test_a_record_naming_a_live_process_that_is_not_the_holder_is_taken(tmp_path):
    # pid reuse: the record names a live process of this host (our parent), which holds nothing
    _plant(tmp_path, {"host": orphans.host_tag(), "hostname": socket.gethostname(), "pid": os.getppid(),
                      "started": 1, "since": "yesterday"})
    with publish.folder_lock(tmp_path):
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()


@pytest.mark.parametrize("pid", ["abc", None, 2 ** 40])
def test_a_damaged_record_is_named_with_its_file_and_how_to_clear_it(held, pid):
    (folder, holder) = held
    record = json.loads((folder / LOCK).read_text())
    assert record["pid"] == holder.pid
    (folder / LOCK).write_text(json.dumps(dict(record, pid=pid)))
    with pytest.raises(FolderBusyError) as busy:
        FolderLock(folder).acquire()
    message = str(busy.value)
    assert repr(str(folder / LOCK)) in message and f"pid {pid!r} is no process id" in message
    assert f"fuser -v {folder / LOCK}" in message and "released when that process ends" in message


def test_an_unreadable_record_is_named_too(held):
    (folder, _) = held
    (folder / LOCK).write_text("{not json")
    with pytest.raises(FolderBusyError, match="record in the lock file .* is damaged"):
        FolderLock(folder).acquire()


def test_the_holder_is_named_and_its_death_frees_the_folder(held):
    (folder, holder) = held
    (status, line) = _try_elsewhere(folder)
    assert status == 3
    assert f"another training run (pid {holder.pid} on host {socket.gethostname()!r}" in line
    holder.kill()
    holder.wait(timeout=60)
    assert _try_elsewhere(folder) == (0, "")  # no take-over: the system released it


def test_the_lock_is_reentrant_and_shared_within_a_process(tmp_path):
    (first, second) = (FolderLock(tmp_path), FolderLock(tmp_path))
    first.acquire()
    second.acquire()
    first.acquire()
    first.release()
    second.release()
    assert first.held and _try_elsewhere(tmp_path)[0] == 3
    first.release()
    assert not first.held and (tmp_path / LOCK).read_text() == ""
    assert _try_elsewhere(tmp_path) == (0, "")


def _attempt(folder, barrier, results):
    barrier.wait()
    try:
        lock = FolderLock(folder).acquire()
        results.put(os.getpid())
    except FolderBusyError:
        results.put(None)
    barrier.wait()  # hold until every process has tried
    lock = None  # noqa: F841 - released only here


@pytest.mark.timeout(120)
def test_forty_simultaneous_attempts_give_one_holder(tmp_path):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(40), context.Queue()
    processes = [context.Process(target=_attempt, args=(tmp_path, barrier, results)) for _ in range(40)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    winners = [pid for pid in outcomes if pid is not None]
    assert len(winners) == 1 and all(process.exitcode == 0 for process in processes)


def test_the_callbacks_of_one_run_hold_the_lock_handed_to_them(tmp_path):
    from pyimagesearch.callbacks import EpochCheckpoint, TrainingMonitor

    lock = FolderLock(tmp_path, purpose="training run")
    callbacks = [EpochCheckpoint(tmp_path, every=1, lock=lock),
                 TrainingMonitor(tmp_path / "plot.png", jsonPath=tmp_path / "h.json", lock=lock)]
    for callback in callbacks:
        callback.on_train_begin()
    assert lock.held and lock._lock.lock_counter == 2
    (status, line) = _try_elsewhere(tmp_path)
    assert status == 3 and f"another training run (pid {os.getpid()} " in line
    for callback in callbacks:
        callback.on_train_end()
    assert not lock.held
    with pytest.raises(TypeError, match="lock must be a pyimagesearch.infra.locks.FolderLock, got str"):
        EpochCheckpoint(tmp_path, lock=str(tmp_path / LOCK))
