"""Partitions and vanished hosts, trial after trial, across two network namespaces (root only).

Not a benchmark: the counts behind the "Across hosts" section of docs/gpu.md.
Each trial makes two hosts (tests/netns.py), starts a 2-process run of
tests/distributed_worker.py (process 0 on node0, process 1 on node1,
coordinator `node0:PORT`) and then, by case:

- `mid-epoch`: pulls node1's cable at a random moment of epoch 2;
- `start-up`: pulls it once process 1 has joined the lobby (JAX then starts);
- `save`: pulls it while process 0 writes a checkpoint (its temporary file
  exists);
- `vanish`: kills every process of a host and removes its cable at once in
  epoch 2 (node1 in odd trials, node0, the coordinator's host, in even ones);
- `flap`: pulls node1's cable for 2 s in epoch 2 and plugs it back (the run
  must go on and end normally);
- `equal`: no fault; the run across hosts against the same run with both
  processes on localhost, weights compared bit for bit.

A trial passes when every process still alive ends (status 1) with exactly
one `[ERROR]` line naming the other process and the last complete
checkpoint, without a traceback or a C++ log line, within the heartbeat
timeout plus a margin after the fault, leaving no lock or temporary file
(`flap` and `equal`: status 0 everywhere, equal weights). Prints one line
per trial and a table.

    sudo python benchmarks/netns_trials.py [--trials 5] [--cases mid-epoch,save,...]
        [--heartbeat 6]
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time

import numpy as np

TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
CASES = ("mid-epoch", "start-up", "save", "vanish", "flap", "equal")
PORT = 29500


def run_trial(case, number, heartbeat, root):
    import netns
    from test_two_hosts import Process, environment, leftovers, lobby_joined, worker, write_rows

    from pyimagesearch.distribute.launcher import free_port_pair
    from pyimagesearch.utils.checkpoints import latest_checkpoint

    db = write_rows(os.path.join(root, "rows.hdf5"), 256)
    out = os.path.join(root, "out")
    hosts = netns.Hosts(2)
    epochs = 3 if case in ("flap", "equal") else 50
    faulty = 0 if case == "vanish" and number % 2 == 0 else 1
    result = {"case": case, "trial": number, "ok": False, "why": ""}
    procs = []
    try:
        began = time.monotonic()
        for p in range(2):
            procs.append(Process(worker(
                "--db", db, "--network", "shallownet", "--output", out,
                "--trace", os.path.join(root, "trace"),
                "--epochs", epochs, "--strategy", "multiworker", "--coordinator",
                f"node0:{PORT}", "--num-processes", 2, "--process-id", p,
                "--heartbeat-timeout", heartbeat, "--startup-timeout", 60), hosts[p]))
        if case == "equal":
            local = f"localhost:{free_port_pair()}"
            for p in range(2):
                procs.append(Process(worker(
                    "--db", db, "--network", "shallownet", "--output",
                    os.path.join(root, "local"), "--trace", os.path.join(root, "local_trace"),
                    "--epochs", epochs, "--strategy", "multiworker", "--coordinator", local,
                    "--num-processes", 2, "--process-id", p, "--heartbeat-timeout", 30),
                    env=environment()))
        cut = during_save = None
        first = os.path.join(out, "epoch_1.keras")
        delay = random.uniform(0.1, 0.6)
        while not all([proc.poll() for proc in procs]):  # every one polled
            if time.monotonic() - began > 600:
                result["why"] = "HANG: still running after 600 s"
                return result
            if cut is None and case == "start-up" and lobby_joined(procs[1], PORT + 1):
                time.sleep(0.2)
                hosts.partition(1)
                cut = time.monotonic()
            elif cut is None and case == "save" and os.path.isdir(out):
                saving = [name for name in os.listdir(out) if name.startswith(".epoch_")]
                if saving:
                    hosts.partition(1)
                    cut = time.monotonic()
                    during_save = any(os.path.exists(os.path.join(out, name)) for name in saving)
                    continue
            elif cut is None and case in ("mid-epoch", "vanish", "flap") and os.path.exists(first):
                time.sleep(delay)
                if case == "vanish":
                    hosts.vanish(faulty)
                else:
                    hosts.partition(1)
                cut = time.monotonic()
                if case == "flap":
                    time.sleep(2)
                    hosts.reconnect(1)
            time.sleep(0.005 if case == "save" else 0.05)
        result["seconds after fault"] = [None if cut is None else round(proc.ended - cut, 1)
                                         for proc in procs]
        result["status"] = [proc.status for proc in procs]
        if case in ("flap", "equal"):
            bad = [p for (p, proc) in enumerate(procs) if proc.status != 0 or proc.errors()]
            if bad:
                result["why"] = f"process(es) {bad} failed: {procs[bad[0]].text()[-800:]}"
                return result
            weights = [np.load(os.path.join(root, trace, f"weights_{p}.npy"))
                       for trace in ("trace", "local_trace")[:len(procs) // 2] for p in range(2)]
            result["weights"] = len(weights[0])
            if not all(np.array_equal(weights[0], other) for other in weights[1:]):
                result["why"] = "weights differ"
                return result
            result["ok"] = True
            return result
        if cut is None:
            lines = [line for proc in procs for line in proc.errors()]
            result["why"] = f"the run ended before the fault: {lines[:1] or procs[0].text()[-600:]}"
            return result
        found = latest_checkpoint(out)
        where = ("no checkpoint was written yet" if found is None
                 else f"last checkpoint: epoch {found[1]} ({found[0]})")
        result["checkpoint"] = None if found is None else found[1]
        result["during save"] = during_save
        for (p, proc) in enumerate(procs):
            if case == "vanish" and p == faulty:
                continue
            lines = proc.errors()
            problems = []
            if proc.status != 1:
                problems.append(f"status {proc.status}")
            if len(lines) != 1:
                problems.append(f"{len(lines)} [ERROR] lines")
            elif f"process {1 - p} of 2 failed" not in lines[0]:
                problems.append(f"line does not name process {1 - p}")
            elif case != "start-up" and where not in lines[0]:
                problems.append(f"line does not name {where!r}")
            if proc.noise():
                problems.append(f"noise: {proc.noise()[0][:120]}")
            if proc.ended - cut > heartbeat + 20:
                problems.append(f"ended {proc.ended - cut:.0f} s after the fault")
            if problems:
                result["why"] = f"process {p}: {', '.join(problems)}: {proc.text()[-600:]}"
                return result
        left = leftovers(out) if os.path.isdir(out) else []
        if case == "vanish" and faulty == 0:  # process 0 was killed holding the folder's lock:
            left = [name for name in left if name != ".pyimagesearch.lock"]  # stale: taken over
        if left:
            result["why"] = f"left {left}"
            return result
        result["ok"] = True
        return result
    finally:
        for proc in procs:
            proc.stop()
        hosts.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--heartbeat", type=int, default=6)
    args = parser.parse_args()
    sys.path.insert(0, TESTS)
    import netns

    reason = netns.unavailable()
    if reason is not None:
        sys.exit(f"cannot make hosts here: {reason}")
    netns.sweep()
    cases = args.cases.split(",")
    for case in cases:
        if case not in CASES:
            sys.exit(f"--cases: unknown case {case!r}; known: {', '.join(CASES)}")
    table = {}
    for case in cases:
        for number in range(1, args.trials + 1):
            root = tempfile.mkdtemp(prefix="netns_trial_")
            began = time.monotonic()
            try:
                result = run_trial(case, number, args.heartbeat, root)
            finally:
                shutil.rmtree(root, ignore_errors=True)
            result["wall"] = round(time.monotonic() - began)
            print({k: v for (k, v) in result.items() if v not in ("", None)}, flush=True)
            table.setdefault(case, []).append(result)
    print("\n| case | trials | passed | seconds from the fault to each end (max) |")
    print("|---|---|---|---|")
    for (case, results) in table.items():
        ends = [s for r in results for s in (r.get("seconds after fault") or []) if s is not None]
        print(f"| {case} | {len(results)} | {sum(r['ok'] for r in results)} | "
              f"{max(ends) if ends else '-'} |")


if __name__ == "__main__":
    main()
