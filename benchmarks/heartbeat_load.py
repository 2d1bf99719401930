"""How long is a healthy process silent on a loaded host? (docs/gpu.md, `--heartbeat-timeout`)

Runs `--runs` two-process trainings at once (tests/distributed_worker.py:
MiniVGGNet, 64 rows, under `pyimagesearch launch -n 2`, JAX on the CPU) with
the default `--heartbeat-timeout`, and reports each run's status and the
longest wait of one process for another's heartbeat (`Watch.longest_silence`,
seconds), against the timeout. Not a test: the figure behind the default.

    python benchmarks/heartbeat_load.py --runs 2
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))


def main():
    from test_distributed import write_rows

    from pyimagesearch.distribute import HEARTBEAT_TIMEOUT

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--heartbeat-timeout", type=int, default=HEARTBEAT_TIMEOUT)
    args = parser.parse_args()
    environment = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
                       TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg", PYTHONPATH=ROOT)
    with tempfile.TemporaryDirectory(prefix="heartbeat-load-") as root:
        db = write_rows(os.path.join(root, "rows.hdf5"), 64)
        began = time.monotonic()
        runs = []
        for run in range(args.runs):
            out = os.path.join(root, f"run{run}")
            runs.append((out, subprocess.Popen(
                [sys.executable, "-m", "pyimagesearch", "launch", "-n", "2", "--",
                 sys.executable, os.path.join(ROOT, "tests", "distributed_worker.py"),
                 "--db", str(db), "--output", os.path.join(out, "out"), "--trace",
                 os.path.join(out, "trace"), "--epochs", str(args.epochs),
                 "--heartbeat-timeout", str(args.heartbeat_timeout)],
                env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
        for (run, (out, process)) in enumerate(runs):
            (text, _) = process.communicate()
            silences = []
            for p in range(2):
                path = os.path.join(out, "trace", f"trace_{p}.json")
                if os.path.exists(path):
                    with open(path) as f:
                        silences.append(json.load(f)["longest_silence"])
            longest = ", ".join(f"{s:.1f}" for s in silences) or "-"
            failed = [line for line in text.splitlines() if "[ERROR]" in line]
            print(f"run {run + 1}: exit {process.returncode}, longest silence {longest} s "
                  f"(timeout {args.heartbeat_timeout} s){'; ' + failed[0] if failed else ''}")
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
        print(f"{args.runs} runs at once in {time.monotonic() - began:.0f} s, "
              f"load average {load} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
