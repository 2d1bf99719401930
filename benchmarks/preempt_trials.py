"""Is SIGTERM or SIGINT honoured by `pyimagesearch demo` at a random moment? (issue 27, docs/reliability.md)

Runs the demo N times on a backend, sends SIGINT or SIGTERM (alternately) a
random 3-7 s after the start (imports, the dataset's build or training), and
counts the outcomes: the expected status (130 after SIGINT, 143 after
SIGTERM) with exactly one line on stderr after the signal (the progress lines
before it are the run's), another status, a crash (a status
from a signal such as SIGSEGV), or still running 60 s after the signal.
Not a test: counts for the documentation.

    KERAS_BACKEND=jax python benchmarks/preempt_trials.py --trials 6
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def trial(signum, delay, epochs):
    with tempfile.TemporaryDirectory(prefix="preempt-trial-") as out:
        environment = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3",
                           MPLBACKEND="Agg")
        child = subprocess.Popen([sys.executable, "-m", "pyimagesearch", "demo", "--output",
                                  os.path.join(out, "demo"), "--epochs", str(epochs)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                 env=environment)
        said = []  # (when, line): the progress lines before the signal are not its answer
        reader = threading.Thread(target=lambda: said.extend((time.monotonic(), line.rstrip("\n"))
                                                            for line in child.stderr), daemon=True)
        reader.start()
        time.sleep(delay)
        sent = time.monotonic()
        child.send_signal(signum)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            return "still running 60 s later", None, ""
        seconds = time.monotonic() - sent
        reader.join(timeout=10)
        lines = [line for (when, line) in said if when >= sent and line.strip()]
        if child.returncode < 0:
            outcome = f"crashed ({signal.Signals(-child.returncode).name})"
        elif child.returncode == 128 + signum and len(lines) == 1:
            outcome = "honoured"
        else:
            outcome = f"status {child.returncode}, {len(lines)} line(s) after the signal"
        leftovers = [name for (_, _, names) in os.walk(out) for name in names if ".tmp" in name]
        if leftovers:
            outcome += f", left {leftovers}"
        return outcome, seconds, lines[-1] if outcome == "honoured" else " | ".join(lines[:12])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    counts = {}
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    for index in range(args.trials):
        signum = (signal.SIGINT, signal.SIGTERM)[index % 2]
        delay = rng.uniform(3, 7)
        (outcome, seconds, line) = trial(signum, delay, args.epochs)
        took = "-" if seconds is None else f"{seconds:.1f} s"
        print(f"{backend} trial {index + 1}: {signal.Signals(signum).name} at {delay:.1f} s: "
              f"{outcome}, exit {took} after the signal; {line}", flush=True)
        counts[outcome] = counts.get(outcome, 0) + 1
    print(f"{backend}: " + ", ".join(f"{outcome} {n} of {args.trials}"
                                     for (outcome, n) in sorted(counts.items())))


if __name__ == "__main__":
    main()
