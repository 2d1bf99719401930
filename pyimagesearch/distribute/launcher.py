"""Runs the processes of a multi-process training run on this machine.

`pyimagesearch launch -n 2 -- python train.py --batch-size 32 ...` starts the
command N times with `--strategy multiworker --coordinator localhost:PORT
--num-processes N --process-id I` appended (a free port pair unless `--port`),
prefixes every line a process prints with `[I] `, and when one process
fails, gives the others `grace` seconds to stop on their own (they print
their one line, see `Distribution.guard`), stops those left, and ends with
one line naming the failed process (one killed by a signal first, then any
other that failed on its own). When process 0 dies, JAX's client in each
other process writes `F... Terminating process` and gRPC's details, just
before or just after the library's line; the launcher drops them where the
library's line says the same (they are shown if it never comes).

SIGTERM or SIGINT to the launcher (a scheduler's preemption, Ctrl-C) is
forwarded to every process, which stop at a batch and write their checkpoint
(`Distribution.guard`); the launcher waits up to `stop_grace` seconds for
them to exit, only then kills those left, and exits with 128 + the signal's
number (143 after SIGTERM, 130 after SIGINT). The processes learn the launch
command (`PYIMAGESEARCH_LAUNCH_COMMAND`) to print it as the command that
resumes the run.
"""

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

from pyimagesearch.distribute.cluster import LAUNCH_VARIABLE
from pyimagesearch.infra.validation import check_int, check_number

GRACE = 30  # seconds the other processes get to stop on their own after a failure
STOP_GRACE = 60  # seconds the processes get to checkpoint and exit after a forwarded signal


def free_port_pair(host="localhost"):
    """A port P such that P and P + 1 are free on `host` (the run uses both)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind((host, 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind((host, port + 1))
                except OSError:
                    continue
            return port
    raise OSError(f"found no two consecutive free ports on {host}.")


def cluster_command(command, process_id, num_processes, coordinator):
    """`command` with the switches of process `process_id` appended."""
    extra = ["--coordinator", coordinator, "--num-processes", str(num_processes),
             "--process-id", str(process_id)]
    if "--strategy" not in command and not any(w.startswith("--strategy=") for w in command):
        extra = ["--strategy", "multiworker", *extra]
    return [*command, *extra]


def launch(command, num_processes, port=None, grace=GRACE, out=None, stop_grace=STOP_GRACE):
    """Runs `command` as the `num_processes` processes of one run; returns the exit status.

    Args:
        command: the command of one process, a list such as
            `["python", "train.py", "--epochs", "10"]`.
        num_processes: how many processes to start.
        port: the coordinator's port (the run also uses `port + 1`); a free
            pair by default.
        grace: seconds the others get to stop on their own after one fails.
        out: where the prefixed lines go (`sys.stdout` by default).
        stop_grace: seconds the processes get to exit after a SIGTERM or
            SIGINT forwarded to them, before they are killed.

    Returns:
        0 when every process succeeded, 1 when one failed, 130 on Ctrl-C,
        143 on SIGTERM.

    Raises:
        ValueError: an empty command, or a bad `num_processes`, `port` or `grace`.
    """
    out = sys.stdout if out is None else out
    if not command:
        raise ValueError("command is empty: give the command after --, such as "
                         "`pyimagesearch launch -n 2 -- python train.py`.")
    num_processes = check_int(num_processes, "num_processes")
    port = check_int(port, "port", minimum=1, maximum=65534, allow_none=True)
    grace = check_number(grace, "grace", minimum=0)
    stop_grace = check_number(stop_grace, "stop_grace", minimum=0)
    coordinator = f"localhost:{free_port_pair() if port is None else port}"
    launched = ["pyimagesearch", "launch", "-n", str(num_processes), "--", *command]
    environ = dict(os.environ, **{LAUNCH_VARIABLE: shlex.join(launched)})
    lock = threading.Lock()
    processes = []
    readers = []
    # a SIGTERM to the launcher (a scheduler, `timeout`) stops the processes too, from the
    # moment the first one starts
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, _interrupt)
                    for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process_id in range(num_processes):
            process = subprocess.Popen(
                cluster_command(command, process_id, num_processes, coordinator),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                start_new_session=True, env=environ,
            )
            processes.append(process)
            reader = threading.Thread(target=_forward,
                                      args=(process, f"[{process_id}] ", out, lock), daemon=True)
            reader.start()
            readers.append(reader)
        status = _supervise(processes, grace, out, lock)
    except KeyboardInterrupt as stop:
        signum = int(stop.args[0]) if stop.args else int(signal.SIGINT)
        # a second signal while the processes save is ignored: their checkpoints come first
        for other in previous:
            signal.signal(other, signal.SIG_IGN)
        killed = _stop(processes, signum, stop_grace)
        how = (f"{len(killed)} killed after {stop_grace:g} s" if killed
               else f"all exited within {stop_grace:g} s")
        _say(out, lock, f"[launch] interrupted by {signal.Signals(signum).name}: forwarded it "
                        f"to the {num_processes} processes ({how})")
        status = 128 + signum
    finally:
        for (signum, handler) in previous.items():
            signal.signal(signum, handler)
    for reader in readers:
        reader.join(timeout=5)
    return status


def _supervise(processes, grace, out, lock):
    (failed, deadline) = ([], None)  # (process id, exit code) of each failure, in the order seen
    while True:
        codes = [process.poll() for process in processes]
        seen = {process_id for (process_id, _) in failed}
        failed += [(process_id, code) for (process_id, code) in enumerate(codes)
                   if code not in (None, 0) and process_id not in seen]
        if failed and deadline is None:
            deadline = time.monotonic() + grace
        if all(code is not None for code in codes):
            break
        if deadline is not None and time.monotonic() > deadline:
            _stop(processes)
            break
        time.sleep(0.1)
    if not failed:
        return 0
    for process in processes:
        process.wait()
    ((process_id, code), *also) = _causes_first(failed)
    also = "".join(f" (and process {other} {_how(status)})" for (other, status) in also)
    _say(out, lock, f"[launch] process {process_id} {_how(code)}{also}: stopped the run "
                    f"({len(processes) - 1} other process(es)); see its lines above")
    return 1


def _causes_first(failed):
    """The failures `(process id, exit code)` seen before the launcher stopped anything, causes first.

    A process killed by a signal is the cause; the others most likely exited
    because it had gone, sometimes before the dying process (a large one takes
    a while to be torn down) could be seen to end. Otherwise the order seen.
    """
    return sorted(failed, key=lambda failure: failure[1] > 0)


def _how(code):
    return f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"


def _interrupt(signum, frame):
    raise KeyboardInterrupt(signum)


def _stop(processes, signum=signal.SIGTERM, grace=5):
    """`signum` to the processes still running, SIGKILL to those left after `grace` s.

    Returns:
        The processes that were killed.
    """
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)
    deadline = time.monotonic() + grace
    killed = []
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            killed.append(process)
    return killed


# JAX's client, when the process holding its coordination service dies, writes this and gRPC's
# details and ends the process; the library's watch says the same in its own one line
_ENGINE_FATAL = re.compile(r"^F\d{4} .*Terminating process because the JAX distributed service")
_LIBRARY_LINE = re.compile(r"^\[(ERROR|INFO)\] process \d+: ")


def _forward(process, prefix, out, lock):
    """Prefixes and passes on each line of `process`, without JAX's dying words where the library spoke.

    From JAX's `F... Terminating process` line on, the process's other lines
    are held until it ends (the library's own lines still pass at once):
    they are dropped if the library said its line, before or after JAX's,
    and shown if it never did.
    """
    (held, fatal, said) = ([], False, False)
    for line in process.stdout:
        line = line.rstrip("\n")
        library = bool(_LIBRARY_LINE.match(line))
        fatal = fatal or bool(_ENGINE_FATAL.match(line))
        if fatal and not library:
            held.append(line)
            continue
        said = said or library
        _say(out, lock, prefix + line)
    if not said:
        for line in held:
            _say(out, lock, prefix + line)


def _say(out, lock, line):
    with lock:
        print(line, file=out, flush=True)
