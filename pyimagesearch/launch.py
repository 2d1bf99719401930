"""Runs the processes of a multi-process training run on this machine.

`pyimagesearch launch -n 2 -- python train.py --batch-size 32 ...` starts the
command N times with `--strategy multiworker --coordinator localhost:PORT
--num-processes N --process-id I` appended (a free port pair unless `--port`),
prefixes every line a process prints with `[I] `, and when one process
fails, gives the others `grace` seconds to stop on their own (they print
their one line, see `Distribution.guard`), stops those left, and ends with
one line naming the failed process (one killed by a signal first, then any
other that failed on its own).
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from pyimagesearch.infra.validation import check_int, check_number

GRACE = 30  # seconds the other processes get to stop on their own after a failure


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


def launch(command, num_processes, port=None, grace=GRACE, out=None):
    """Runs `command` as the `num_processes` processes of one run; returns the exit status.

    Args:
        command: the command of one process, a list such as
            `["python", "train.py", "--epochs", "10"]`.
        num_processes: how many processes to start.
        port: the coordinator's port (the run also uses `port + 1`); a free
            pair by default.
        grace: seconds the others get to stop on their own after one fails.
        out: where the prefixed lines go (`sys.stdout` by default).

    Returns:
        0 when every process succeeded, 1 when one failed, 130 on Ctrl-C.

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
    coordinator = f"localhost:{free_port_pair() if port is None else port}"
    lock = threading.Lock()
    processes = []
    readers = []
    for process_id in range(num_processes):
        process = subprocess.Popen(
            cluster_command(command, process_id, num_processes, coordinator),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True,
        )
        processes.append(process)
        reader = threading.Thread(target=_forward, args=(process, f"[{process_id}] ", out, lock),
                                  daemon=True)
        reader.start()
        readers.append(reader)
    # a SIGTERM to the launcher (a scheduler, `timeout`) stops the processes too
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        status = _supervise(processes, grace, out, lock)
    except KeyboardInterrupt:
        _stop(processes)
        _say(out, lock, f"[launch] interrupted: stopped the {num_processes} processes")
        status = 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
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
    raise KeyboardInterrupt


def _stop(processes):
    """SIGTERM to the processes still running, SIGKILL after 5 s."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _forward(process, prefix, out, lock):
    for line in process.stdout:
        _say(out, lock, prefix + line.rstrip("\n"))


def _say(out, lock, line):
    with lock:
        print(line, file=out, flush=True)
