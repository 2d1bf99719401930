"""Positional reads against a guarded memory map: the read path's two designs, side by side.

    python benchmarks/bench_readpath.py [--images 640] [--repeat 5]

On an HDF5 file of 256x256 uint8 images written by `HDF5DatasetWriter`
(about 1 MB chunks), batches of 64 random 227x227 patches (the book's Dogs
vs. Cats crop) are cut straight into the batch, once per row, by:

1. `ChunkReader` (the library's reader): `preadv` through ctypes, one call
   per patch, each patch line from the page cache into the batch (the bytes
   between lines written over by the next line); a file that shrinks gives a
   short read, an error.
2. A memory map guarded by `os.fstat` before each chunk: one `cv2.vconcat` of
   the chunk's patch views (the library's previous reader). The check cannot
   hold: a truncation between it and the copy still raises SIGBUS, which
   Python cannot catch; this is the cheapest guard there is, so its timing is
   the map's best case.

Both run with every chunk verified before (no CRC in the timing), with 1 and
2 threads building batches in turn, each into its own buffer. Best of
--repeat, the two designs in turn; the CPU time per batch (one thread,
`time.thread_time`) is the figure a busy machine disturbs least.
"""

import argparse
import mmap
import os
import sys
import tempfile
import threading
import time

import cv2
import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_hdf5 import synthetic_image  # noqa: E402

from pyimagesearch.io import HDF5DatasetWriter  # noqa: E402
from pyimagesearch.infra.batchmemory import BatchMemory  # noqa: E402
from pyimagesearch.io.readpath.chunkreader import ChunkReader  # noqa: E402

BATCH, PATCH, SIDE = 64, 227, 256


def plan(count, rows):
    """Per batch: its start row and the patch offsets of its rows."""
    rng = np.random.default_rng(0)
    return [(start, rng.integers(0, SIDE - PATCH + 1, BATCH), rng.integers(0, SIDE - PATCH + 1, BATCH))
            for start in range(0, count - BATCH + 1, BATCH)]


def threaded(work, batches, threads, cpu):
    """Wall seconds for `threads` threads to build every batch; adds each thread's CPU seconds to `cpu`."""
    def run(first):
        out = np.empty((BATCH, PATCH, PATCH, 3), np.uint8)
        start = time.thread_time()
        for index in range(first, len(batches), threads):
            work(batches[index], out)
        cpu.append(time.thread_time() - start)
    workers = [threading.Thread(target=run, args=(first,)) for first in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=640, help="images in the file (default: 640)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing, best kept (default: 5)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="bench_readpath_") as folder:
        path = os.path.join(folder, "images.hdf5")
        rng = np.random.default_rng(0)
        with HDF5DatasetWriter((args.images, SIDE, SIDE, 3), path) as writer:
            for i in range(args.images):
                writer.add([synthetic_image(rng, SIDE, SIDE)], [i % 2])
        with h5py.File(path, "r") as db:
            reader = ChunkReader(db["images"], BatchMemory(keep=4))  # batch buffers reused, as the generator's
            reader.read(0, args.images)  # every chunk verified: the timings leave the CRC out
            (rows, offsets, row_bytes) = (reader.chunk_rows, reader.offsets, reader.row_bytes)
            handle = open(path, "rb")
            mapped = np.frombuffer(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ), np.uint8)
            end = int(offsets.max()) + rows * row_bytes
            batches = plan(args.images, rows)

            def by_preadv_into(batch, out):  # the batch is the reader's own (reused) buffer
                (start, ys, xs) = batch
                reader.read(start, start + BATCH, (ys, xs, PATCH, PATCH))

            def by_map(batch, out):
                (start, ys, xs) = batch
                lines = out.reshape(-1, PATCH, 3)
                (row, done) = (start, 0)
                while row < start + BATCH:
                    (chunk, first) = divmod(row, rows)
                    last = min(start + BATCH - row, rows - first) + first
                    if os.fstat(handle.fileno()).st_size < end:  # the guard
                        raise OSError("the file shrank")
                    block = mapped[offsets[chunk]:offsets[chunk] + rows * row_bytes].reshape(rows, SIDE, SIDE, 3)
                    pieces = [block[k, ys[i]:ys[i] + PATCH, xs[i]:xs[i] + PATCH]
                              for (i, k) in enumerate(range(first, last), done)]
                    cv2.vconcat(pieces, dst=lines[done * PATCH:(done + len(pieces)) * PATCH])
                    (row, done) = (row + last - first, done + len(pieces))

            (results, cpu) = ({}, {})
            for _ in range(args.repeat):  # in turn, so that a busy spell of the machine slows both alike
                for threads in (1, 2):
                    for (name, work) in (("preadv", by_preadv_into), ("guarded mmap", by_map)):
                        spent = []
                        rate = len(batches) * BATCH / threaded(work, batches, threads, spent)
                        results[(name, threads)] = max(results.get((name, threads), 0), rate)
                        if threads == 1:
                            cpu[name] = min(cpu.get(name, np.inf), spent[0] / len(batches))
            handle.close()
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}; {args.images} images "
          f"{SIDE}x{SIDE}, batch {BATCH}, {PATCH} patches, chunks verified before, best of {args.repeat}")
    print("| read | CPU ms per batch (1 thread) | 1 thread img/s | 2 threads img/s | 2 / 1 |")
    print("|---|---:|---:|---:|---:|")
    for name in ("preadv", "guarded mmap"):
        (one, two) = (results[(name, 1)], results[(name, 2)])
        print(f"| {name} | {1000 * cpu[name]:.2f} | {one:,.0f} | {two:,.0f} | {two / one:.2f}x |")
    print(f"CPU per batch, guarded mmap / preadv: {cpu['guarded mmap'] / cpu['preadv']:.2f}")
    for threads in (1, 2):
        print(f"img/s, preadv / guarded mmap, {threads} thread(s): "
              f"{results[('preadv', threads)] / results[('guarded mmap', threads)]:.2f}")


if __name__ == "__main__":
    main()
