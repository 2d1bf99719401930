"""`pyimagesearch demo` at its defaults against the previous defaults, measured in the same run.

Each configuration runs as its own `pyimagesearch demo` process, one after the
other, and is charged the CPU seconds (user + system) of that process: CPU time
is what a busy machine inflates least. Wall time is printed too; on an idle
2-core machine it is what the README states.

Usage: python benchmarks/bench_demo.py [--output pyimagesearch-bench-demo]
"""

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time

CONFIGURATIONS = {
    "previous defaults (25 epochs, batch 64)": ["--epochs", "25", "--batch-size", "64"],
    "defaults": [],
}


def run_demo(output, arguments):
    """Runs the demo in a child process; returns (wall s, CPU s, plain rank-1 %, 10-crop rank-1 %)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pyimagesearch", "demo", "--output", output, *arguments],
                            capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows = dict(re.findall(r"^\s+(plain \(resize\)|10-crop over-sampled)\s+([\d.]+)%", result.stdout, re.M))
    return wall, cpu, float(rows["plain (resize)"]), float(rows["10-crop over-sampled"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="pyimagesearch-bench-demo", help="scratch folder (removed at the end)")
    args = parser.parse_args()
    results = {}
    try:
        for (name, arguments) in CONFIGURATIONS.items():
            results[name] = run_demo(os.path.join(args.output, str(len(results))), arguments)
    finally:
        shutil.rmtree(args.output, ignore_errors=True)
    print(f"{'configuration':<42}{'wall s':>8}{'CPU s':>8}{'rank-1':>9}{'10-crop':>9}")
    for (name, (wall, cpu, plain, crops)) in results.items():
        print(f"{name:<42}{wall:>8.1f}{cpu:>8.1f}{plain:>8.2f}%{crops:>8.2f}%")
    (old, new) = (results[name][1] for name in CONFIGURATIONS)
    print(f"CPU seconds, defaults against previous defaults: {new / old:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
