"""What a user sees on stderr when an entry point starts: lines per command.

Usage: python benchmarks/bench_startup_lines.py [TREE]

Runs each command in a fresh process with the repository at TREE (default:
this one) first on the path, with no TF_CPP_MIN_LOG_LEVEL set (as a user's
shell), and prints the number of stderr lines and the first of them. Run it
on two trees to compare (the closing note of issue 28 gives both).
"""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

TREE = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
COMMANDS = {
    "pyimagesearch demo --help": [sys.executable, "-m", "pyimagesearch", "demo", "--help"],
    "pyimagesearch inspect-model shallownet": [sys.executable, "-m", "pyimagesearch", "inspect-model",
                                               "shallownet"],
    "examples/ch05_fine_tuning/inspect_model.py (weights none)": [
        sys.executable, str(TREE / "examples/ch05_fine_tuning/inspect_model.py"), "--include-top", "0",
        "--weights", "none"],
    "examples/ch02_data_augmentation/augmentation_demo.py (one image)": [
        sys.executable, str(TREE / "examples/ch02_data_augmentation/augmentation_demo.py"),
        "--image", "/tmp/bench_startup_lines.png", "--output", "/tmp/bench_startup_lines", "--total", "2"],
    "an import in a user's program": [sys.executable, "-c",
                                      "from pyimagesearch.io import HDF5DatasetGenerator"],
}


def main():
    environment = {key: value for (key, value) in os.environ.items()
                   if key not in ("TF_CPP_MIN_LOG_LEVEL", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}
    environment.update(PYTHONPATH=str(TREE), CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    print(f"tree: {TREE}")
    cv2.imwrite("/tmp/bench_startup_lines.png", np.full((32, 40, 3), 128, "uint8"))  # augmentation_demo's image
    for (name, command) in COMMANDS.items():
        result = subprocess.run(command, capture_output=True, text=True, env=environment, cwd="/tmp",
                                timeout=600)
        lines = result.stderr.splitlines()
        first = lines[0][:90] if lines else ""
        print(f"{name}: exit {result.returncode}, {len(lines)} stderr line(s) {first!r}")


if __name__ == "__main__":
    main()
