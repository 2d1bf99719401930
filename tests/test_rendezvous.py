"""The start-up lobby, the watch and the local launcher: threads and tiny processes, no JAX."""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from pyimagesearch.distribute import rendezvous
from pyimagesearch.distribute.launcher import cluster_command, free_port_pair, launch
from pyimagesearch.distribute.rendezvous import StartupError, Watch

LIMIT = 60  # a bound only a hang misses


def coordinator():
    return f"localhost:{free_port_pair()}"


def in_thread(function):
    """Runs `function()` in a thread; returns a callable giving (result, error) once done."""
    done = {}

    def run():
        try:
            done["result"] = function()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            done["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result():
        thread.join(timeout=LIMIT)
        assert not thread.is_alive(), "the lobby hung"
        return done.get("result"), done.get("error")

    return result


def watch(address, process_id, count=2, startup=LIMIT, heartbeat=LIMIT, lines=None):
    return Watch(address, count, process_id, startup, heartbeat,
                 report=(lines.append if lines is not None else lambda line: None))


def test_processes_meet_then_a_failure_is_named_to_every_survivor():
    address = coordinator()
    watches = [watch(address, p, count=3) for p in range(3)]
    failures = {p: threading.Event() for p in range(3)}
    named = {}
    for (p, w) in enumerate(watches):
        w.on_failure = lambda failed, p=p: (named.__setitem__(p, failed), failures[p].set())
    results = [in_thread(w.gather) for w in watches]
    assert all(error is None for (_, error) in (result() for result in results))
    # process 2 ends normally: no failure; process 1 dies (its connection closes)
    watches[2].finish()
    time.sleep(0.5)
    watches[1]._sock.close()
    assert failures[0].wait(LIMIT) and named[0] == 1
    time.sleep(1)
    # process 2 had finished: a finished process reports nothing
    assert 2 not in named and watches[2].failed is None


def test_a_silent_process_fails_after_the_heartbeat_timeout():
    address = coordinator()
    chief = watch(address, 0, heartbeat=2)
    told = threading.Event()
    chief.on_failure = lambda failed: told.set()
    gathered = in_thread(chief.gather)
    # process 1 joins, then hangs: its connection stays open, it sends nothing
    (host, port) = rendezvous.lobby_address(address)
    deadline = time.monotonic() + LIMIT
    while True:  # until the lobby listens
        try:
            hung = socket.create_connection((host, port), timeout=LIMIT)
            break
        except ConnectionRefusedError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    with hung:
        hung.sendall(b"join 1 2\n")
        assert gathered() == (None, None)
        began = time.monotonic()
        assert told.wait(LIMIT) and chief.failed == 1
        assert 2 <= time.monotonic() - began + 1 < LIMIT


def test_process_0_vanishing_is_named_by_the_others():
    address = coordinator()
    watches = [watch(address, p) for p in range(2)]
    told = threading.Event()
    watches[1].on_failure = lambda failed: told.set()
    results = [in_thread(w.gather) for w in watches]
    assert all(error is None for (_, error) in (result() for result in results))
    watches[0]._close_all()
    assert told.wait(LIMIT) and watches[1].failed == 0


def test_a_duplicated_id_is_named_and_the_run_goes_on():
    address = coordinator()
    watches = [watch(address, p) for p in range(2)]
    results = [in_thread(w.gather) for w in watches]
    assert all(error is None for (_, error) in (result() for result in results))
    # a second process 1 joins the running pair: refused, the pair is untouched
    with pytest.raises(StartupError, match="process id 1 is duplicated"):
        watch(address, 1).gather()
    # a second process 0: its lobby port is the running one's
    with pytest.raises(StartupError, match="process id 0 is duplicated"):
        watch(address, 0).check_local()
    assert watches[0].failed is None and watches[1].failed is None


def test_waiting_says_who_joined_and_the_timeout_names_the_missing(monkeypatch):
    monkeypatch.setattr(rendezvous, "PROGRESS_EVERY", 0.5)
    address = coordinator()
    lines = []
    chief = in_thread(watch(address, 0, count=3, startup=2, lines=lines).gather)
    other_lines = []
    other = in_thread(watch(address, 1, count=3, startup=5, lines=other_lines).gather)
    (_, error) = chief()
    assert isinstance(error, StartupError)
    assert str(error).startswith(f"process(es) 2 of 3 never joined {address} within 2 s")
    assert any(f"waiting for processes at {address}: 2 of 3 joined" in line for line in lines)
    (_, error) = other()
    assert "stopped while the run gathered" in str(error)
    assert any("waiting for the other processes" in line for line in other_lines)


def test_another_process_count_is_refused():
    address = coordinator()
    chief = in_thread(watch(address, 0, count=2, startup=2).gather)
    with pytest.raises(StartupError, match="started with --num-processes 3, process 0 with 2"):
        watch(address, 1, count=3).gather()
    chief()


def test_nobody_at_the_coordinator_and_a_port_in_use():
    address = coordinator()
    with pytest.raises(StartupError, match=f"process 0 at {address} did not gather the run "
                                           "within 1 s"):
        watch(address, 1, startup=1).gather()
    port = int(address.rpartition(":")[2])
    with socket.socket() as taken:
        taken.bind(("", port))
        taken.listen()
        began = time.monotonic()
        with pytest.raises(StartupError, match=f"port {port} of coordinator {address} is in use"):
            watch(address, 0).check_local()
        assert time.monotonic() - began < 5
    with pytest.raises(StartupError, match="cannot resolve host 'nosuchhost.invalid'"):
        watch(f"nosuchhost.invalid:{port}", 1).check_local()



def test_process_0_away_from_the_coordinators_host_is_warned():
    # a second "process 0" started on another host used to wait out the start-up timeout and
    # then name the others as missing; now it says at once where process 0 belongs
    from pyimagesearch.distribute.rendezvous import is_this_host

    assert is_this_host("localhost") and is_this_host("127.0.0.1") and is_this_host(socket.gethostname())
    assert not is_this_host("192.0.2.1")  # TEST-NET-1: no host's address
    assert not is_this_host("nosuchhost.invalid")
    port = int(coordinator().rpartition(":")[2])
    lines = []
    watch(f"192.0.2.1:{port}", 0, lines=lines).check_local()
    assert lines == [f"[WARNING] process 0: the coordinator 192.0.2.1:{port} is not an address of this "
                     f"host ({socket.gethostname()}); the other processes look for process 0 there: "
                     f"start process 0 on 192.0.2.1, or give --coordinator this host's address"]
    lines.clear()
    watch(f"localhost:{port}", 0, lines=lines).check_local()
    assert lines == []

# ---------------------------------------------------------------- the launcher

def test_cluster_command_appends_the_switches():
    assert cluster_command(["python", "t.py"], 1, 2, "localhost:5") == [
        "python", "t.py", "--strategy", "multiworker", "--coordinator", "localhost:5",
        "--num-processes", "2", "--process-id", "1"]
    command = cluster_command(["t", "--strategy", "none"], 0, 1, "h:1")
    assert command[3:5] == ["--coordinator", "h:1"]


CHILD = ("import sys, time; i = sys.argv[sys.argv.index('--process-id') + 1]; "
         "print('hello from', i, flush=True); "
         "sys.exit(3) if i == '1' else time.sleep(float(sys.argv[1]))")


def test_launch_prefixes_lines_and_stops_everything_when_one_fails():
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pyimagesearch", "launch", "-n", "3",
                             "--grace", "1", "--", sys.executable, "-c", CHILD, "600"],
                            capture_output=True, text=True, timeout=LIMIT)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert {f"[{i}] hello from {i}" for i in range(3)} <= set(lines)
    assert lines[-1] == ("[launch] process 1 exited with status 3: stopped the run "
                         "(2 other process(es)); see its lines above")
    assert time.monotonic() - began < LIMIT


def test_a_death_by_a_signal_is_named_as_the_cause_before_the_exits_it_caused():
    from pyimagesearch.distribute.launcher import _causes_first

    assert _causes_first([(0, 1), (1, -9)]) == [(1, -9), (0, 1)]
    assert _causes_first([(2, 3), (1, 2)]) == [(2, 3), (1, 2)]
    assert _causes_first([]) == []



JAX_DYING_WORDS = [
    "F1207 04:38:24.491924   27574 client.h:80] Terminating process because the JAX distributed "
    "service detected fatal errors. This most likely indicates that another task died",
    "Additional GRPC error information from remote target coordination_service while calling "
    "/xla.coordination.CoordinationService/PollForError:",
    ':UNKNOWN:Error received from peer  {grpc_message:"Socket closed", grpc_status:14}',
]


@pytest.mark.parametrize("order", ["library's line after", "library's line before", "library's line between",
                                   "no library line"])
def test_launch_drops_jaxs_dying_words_only_where_the_librarys_line_says_the_same(order):
    # the survivor's watch and JAX's client see process 0's end at the same moment: either
    # line may come first (2 of 2 runs JAX's, then 1 run in 4 the library's)
    import io
    import threading
    from types import SimpleNamespace

    from pyimagesearch.distribute.launcher import _forward

    mine = "[ERROR] process 1: process 0 of 2 failed (died, or silent for 30 s); resume ..."
    before = ["[INFO] process 1 epoch 1 ended"]
    lines = {"library's line after": [*before, *JAX_DYING_WORDS, mine],
             "library's line before": [*before, mine, *JAX_DYING_WORDS],
             "library's line between": [*before, JAX_DYING_WORDS[0], mine, *JAX_DYING_WORDS[1:]],
             "no library line": [*before, *JAX_DYING_WORDS]}[order]
    out = io.StringIO()
    _forward(SimpleNamespace(stdout=iter(line + "\n" for line in lines)), "[1] ", out, threading.Lock())
    shown = out.getvalue().splitlines()
    if order == "no library line":  # JAX's were the only words: shown, nothing lost
        assert shown == ["[1] " + line for line in lines]
    else:
        assert shown == ["[1] [INFO] process 1 epoch 1 ended", "[1] " + mine]

def test_launch_succeeds_when_every_process_does(capsys):
    code = ("import sys; i = sys.argv[sys.argv.index('--process-id') + 1]; "
            "print('done', i)")
    assert launch([sys.executable, "-c", code], 2, grace=1) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == ["[0] done 0", "[1] done 1"]
    with pytest.raises(ValueError, match="command is empty"):
        launch([], 2)
    with pytest.raises(ValueError, match="num_processes must be a positive integer"):
        launch(["x"], 0)


def test_a_terminated_launcher_leaves_no_process(tmp_path):
    pids = tmp_path / "pids"
    code = ("import os, sys, time; open(sys.argv[1] + sys.argv[sys.argv.index('--process-id') + 1],"
            " 'w').write(str(os.getpid())); time.sleep(600)")
    launcher = subprocess.Popen([sys.executable, "-m", "pyimagesearch", "launch", "-n", "2", "--",
                                 sys.executable, "-c", code, str(pids)],
                                stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + LIMIT
    while not all((tmp_path / f"pids{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline and launcher.poll() is None
        time.sleep(0.1)
    time.sleep(0.2)
    launcher.terminate()
    (out, _) = launcher.communicate(timeout=LIMIT)
    assert launcher.returncode == 143 and "[launch] interrupted by SIGTERM: forwarded it to the 2" in out
    for i in range(2):
        pid = int((tmp_path / f"pids{i}").read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
