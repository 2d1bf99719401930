"""Process workers of two source trees, side by side: the library's own pool against another.

    python benchmarks/bench_workers.py OLD_TREE NEW_TREE [--images 640] [--rounds 5]

Each tree is a folder holding a `pyimagesearch` package (e.g. `git archive
<commit> pyimagesearch | tar -x -C /tmp/old`). On one HDF5 file of 256x256
uint8 images, batch 64, the uint8 path (random 227 patch only, as in
bench_pipeline.py), `HDF5DatasetGenerator(workers=2, use_multiprocessing=True)`
with and without `shared_memory=True` serves whole epochs to 2 threads
calling `gen[i]` (what Keras' PyDataset runner does). Each measurement runs
in a fresh process per tree, the trees alternating round by round; a
round's figure is the best of 3 epochs after one warm-up epoch, and the
table gives each tree's median over the rounds (and the rounds that hung:
no epoch within 120 s).

Measured (issue 28), the library's own pool (commit eaeaa3d) against the
`ProcessPoolExecutor` + `multiprocessing.shared_memory` version (commit
fccf901), 2 workers, 384 images, on a 2-core machine shared with other jobs
(load average about 5, so single rounds vary 2x):

    --rounds 5: shared_memory=True   own 7,212 img/s, executor 4,550 (0.63x), 2 of 5 executor rounds hung
                shared_memory=False  own 5,057 img/s, executor 3,171 (0.63x)
    --rounds 3: shared_memory=True   own 6,601 img/s, executor 4,667 (0.71x)
                shared_memory=False  own 3,279 img/s, executor 3,646 (1.11x)

A hung executor round had its worker processes alive and idle and no batch
ever returned. The own pool stays.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HANG_S = 120  # a measurement that takes longer has hung (one takes about 5 s)
BATCH = 64
PATCH = 227


def child(path, shared):
    """In a fresh process: images/s of the best of 3 epochs, printed."""
    from pyimagesearch.io import HDF5DatasetGenerator
    from pyimagesearch.preprocessing import PatchPreprocessor

    gen = HDF5DatasetGenerator(path, BATCH, preprocessors=[PatchPreprocessor(PATCH, PATCH, seed=0)],
                               binarize=False, workers=2, use_multiprocessing=True, shared_memory=shared)
    with ThreadPoolExecutor(2) as threads:
        times = []
        for _ in range(4):
            start = time.perf_counter()
            for images, _labels in threads.map(gen.__getitem__, range(len(gen))):
                assert images.dtype.name == "uint8"
            times.append(time.perf_counter() - start)
    gen.close()
    print(gen.numImages / min(times[1:]))


def write_file(path, count):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_hdf5 import synthetic_image

    import numpy as np

    from pyimagesearch.io import HDF5DatasetWriter

    rng = np.random.default_rng(0)
    with HDF5DatasetWriter((count, 256, 256, 3), path) as writer:
        for i in range(count):
            writer.add([synthetic_image(rng, 256, 256)], [i % 2])


def measure(tree, path, shared):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree), KERAS_BACKEND="numpy")
    try:
        run = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", path, str(int(shared))],
                             capture_output=True, text=True, env=env, timeout=HANG_S, check=False)
    except subprocess.TimeoutExpired:  # its process group is left to the kill below
        return None
    if run.returncode != 0:
        raise SystemExit(f"{tree}: {run.stderr.strip()}")
    return float(run.stdout.split()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*")
    parser.add_argument("--images", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], bool(int(args.child[1])))
        return
    if len(args.trees) != 2:
        parser.error("give two trees: OLD_TREE NEW_TREE")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "images.hdf5")
        write_file(path, args.images)
        for shared in (True, False):
            rates = {tree: [] for tree in args.trees}
            for _ in range(args.rounds):
                for tree in args.trees:
                    rates[tree].append(measure(tree, path, shared))
            (old, new) = (_median(rates[tree]) for tree in args.trees)
            print(f"shared_memory={shared}: " + "; ".join(
                f"{tree} {_median(rates[tree]):,.0f} img/s "
                f"(rounds {', '.join('hung' if rate is None else f'{rate:,.0f}' for rate in rates[tree])})"
                for tree in args.trees) + f"; second/first {new / old:.2f}", flush=True)


def _median(rates):
    return statistics.median(rate for rate in rates if rate is not None)


if __name__ == "__main__":
    main()
