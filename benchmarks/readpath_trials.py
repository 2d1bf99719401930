"""Trials of a file truncated or changed in place under an open reader, and what plain h5py sees.

    python benchmarks/readpath_trials.py [--trials 20]

Each trial copies a freshly written file (160 rows of 64x64x3 in ~1 MB
chunks), opens it, and while readers go through its batches, truncates it
to a random size or flips 300 random bytes of one chunk at a random moment:

1. truncation under 2 threads reading batches (the generator's read path,
   `DatasetFile.read`, as Keras' threads call it), each trial in its own
   process: counted as a clean error (one line naming the file), a SIGBUS,
   a stall (no end within 60 s) or a silent read;
2. truncation under process workers (`use_multiprocessing=True`, 2 workers):
   the error that reaches the training loop;
3. an in-place change (300 bytes flipped, the size kept) after an epoch: the
   next epoch's batches fail (one line) or are served silently;
4. plain h5py on 3: the rows served silently, or an error.
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap

import h5py
import numpy as np

from pyimagesearch.io import HDF5DatasetWriter

ROWS, SIDE = 160, 64

THREADS_TRIAL = textwrap.dedent("""
    import os, random, sys, threading, time
    from pyimagesearch.io.readpath.datasetfile import DatasetFile
    (path, seed) = (sys.argv[1], int(sys.argv[2]))
    rng = random.Random(seed)
    data = DatasetFile(path, classes=2)
    data.read(0, 8)
    (errors, stop) = ([], threading.Event())
    def read(first):
        while not stop.is_set():
            for start in range(first * 8, len(data.labels), 16):
                try:
                    data.read(start, min(start + 8, len(data.labels)))
                except (OSError, ValueError) as error:
                    errors.append(str(error))
                    return
    threads = [threading.Thread(target=read, args=(k,)) for k in (0, 1)]
    [t.start() for t in threads]
    time.sleep(rng.uniform(0, 0.05))
    os.truncate(path, rng.randrange(os.path.getsize(path)))
    time.sleep(0.5)
    stop.set()
    [t.join() for t in threads]
    print("ERRORS" if errors else "SILENT", len(errors), errors[0] if errors else "")
""")


def write(path):
    rng = np.random.default_rng(0)
    with HDF5DatasetWriter((ROWS, SIDE, SIDE, 3), path, bufSize=32) as writer:
        writer.add(rng.integers(0, 256, (ROWS, SIDE, SIDE, 3), dtype=np.uint8), np.arange(ROWS) % 2)


def one_line_naming(message, path):
    return "\n" not in message.strip() and repr(path) in message


def truncation_threads(source, folder, trials):
    counts = {"clean": 0, "sigbus": 0, "stall": 0, "silent": 0, "other": 0}
    script = os.path.join(folder, "trial.py")
    with open(script, "w") as handle:
        handle.write(THREADS_TRIAL)
    for trial in range(trials):
        path = os.path.join(folder, f"t{trial}.hdf5")
        shutil.copy(source, path)
        try:
            run = subprocess.run([sys.executable, script, path, str(trial)], capture_output=True, text=True,
                                 timeout=60)
        except subprocess.TimeoutExpired:
            counts["stall"] += 1
            continue
        if run.returncode == -7:
            counts["sigbus"] += 1
        elif run.stdout.startswith("ERRORS") and one_line_naming(run.stdout.split(" ", 2)[2], path):
            counts["clean"] += 1
        elif run.stdout.startswith("SILENT"):
            counts["silent"] += 1
        else:
            counts["other"] += 1
            print("  unexpected:", run.returncode, run.stdout[-300:], run.stderr[-300:])
    return counts


def truncation_processes(source, folder, trials):
    from pyimagesearch.io import HDF5DatasetGenerator

    counts = {"clean": 0, "other": 0}
    for trial in range(trials):
        path = os.path.join(folder, f"p{trial}.hdf5")
        shutil.copy(source, path)
        gen = HDF5DatasetGenerator(path, 8, workers=2, use_multiprocessing=True)
        gen[0]
        os.truncate(path, random.Random(trial).randrange(os.path.getsize(path)))
        try:
            [gen[i] for i in range(len(gen))]
            counts["other"] += 1
        except (OSError, ValueError, RuntimeError) as error:
            counts["clean" if one_line_naming(str(error), path) else "other"] += 1
        gen.close()
    return counts


def flip(path, rng):
    with h5py.File(path, "r") as db:
        images = db["images"]
        info = images.id.get_chunk_info(int(rng.integers(images.id.get_num_chunks())))
    with open(path, "r+b") as handle:
        at = info.byte_offset + int(rng.integers(0, info.size - 300))
        handle.seek(at)
        original = handle.read(300)
        handle.seek(at)
        handle.write(bytes(b ^ 0x5A for b in original))


def in_place(source, folder, trials):
    from pyimagesearch.io import HDF5DatasetGenerator

    (ours, plain) = ({"clean": 0, "silent": 0, "other": 0}, {"error": 0, "silent": 0, "unchanged": 0})
    for trial in range(trials):
        path = os.path.join(folder, f"c{trial}.hdf5")
        shutil.copy(source, path)
        old = os.stat(path).st_mtime_ns - 3600 * 10 ** 9  # built an hour ago (see docs/reliability.md)
        os.utime(path, ns=(old, old))
        gen = HDF5DatasetGenerator(path, 8)
        first = [gen[i][0].copy() for i in range(len(gen))]
        db = h5py.File(path, "r")
        plain_first = [db["images"][s:s + 8] for s in range(0, ROWS, 8)]
        flip(path, np.random.default_rng(trial))
        try:
            [gen[i] for i in range(len(gen))]
            ours["silent"] += 1
        except OSError as error:
            ours["clean" if one_line_naming(str(error), path) else "other"] += 1
        try:
            after = [db["images"][s:s + 8] for s in range(0, ROWS, 8)]
            changed = any((a != b).any() for a, b in zip(after, plain_first))
            plain["silent" if changed else "unchanged"] += 1
        except OSError:
            plain["error"] += 1
        db.close()
        gen.close()
        del first
    return ours, plain


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="trials of each kind (default: 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="readpath_trials_") as folder:
        source = os.path.join(folder, "source.hdf5")
        write(source)
        print(f"load average {os.getloadavg()[0]:.2f}; {args.trials} trials each")
        print("truncation under 2 reading threads:", truncation_threads(source, folder, args.trials))
        print("truncation under 2 process workers:", truncation_processes(source, folder, args.trials))
        (ours, plain) = in_place(source, folder, args.trials)
        print("in-place change (300 bytes), the generator's next epoch:", ours)
        print("the same change, plain h5py reading the open file again:", plain)


if __name__ == "__main__":
    main()
