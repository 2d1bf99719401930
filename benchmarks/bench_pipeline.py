"""The host side of feeding a GPU: read paths, threads, a simulated device, one run.

    python benchmarks/bench_pipeline.py [--images 1280] [--repeat 3] [--scaling 1,2,4] [--quick]

On an HDF5 file of 256x256 uint8 images (synthetic, photo-like), batch 64,
random 227 patch as in the book's Dogs vs. Cats project, OpenCV held to one
thread per call:

1. raw uint8 read of the batches through h5py;
2. the generator's float32 path (the book's chain: patch + mean + to-array) and
   the uint8 path (patch only, the mean in the model), with and without the
   book's augmentation; bytes per batch handed to the model;
3. read paths and threads: the direct path (`read_path="mmap"`, the default
   for the library's files: positional reads of the chunks) against h5py (`read_path="h5py"`, the reader
   before it). 1 thread (the loop calls `gen[i]`, Keras' `workers=1`) against
   2 threads building batches in turn, alone ("assembly") and serving a loop
   through a queue of 10; on a first pass (every chunk's checksum verified in
   the timed epoch) and on the epochs after it (chunks verified once per
   opening, as the Reliability page says). Beside them: bare threads doing a
   first pass's work with no generator (what the machine allows), and Keras'
   own `PyDatasetAdapter` with `workers=1` and `2`;
4. the share of a batch that holds the GIL: its time outside the calls that
   release it (OpenCV's copies and warps, the CRC32);
5. the generator against the book's exact algorithm (h5py read of the book's
   float64 file, `extract_patches_2d`, mean, to-array, one image at a time);
6. a simulated device: a consumer that takes each batch and sleeps as a GPU
   at 5,000 / 10,000 / 20,000 img/s would (releasing the GIL), fed by 1 and 2
   worker threads; efficiency = images/s delivered / the device's rate;
7. process workers (`use_multiprocessing`), pickles against /dev/shm;
8. augmentation at 227x227: ImageAugmenter vs albumentations vs Keras layers.

Every timing is the best of --repeat runs; the ratios are what to compare.
The last block is a table of every target of issue 17 beside its ratio.
"""

import argparse
import collections
import math
import mmap
import os
import pickle
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import cv2  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_hdf5 import (BookHDF5DatasetWriter, BookImageToArrayPreprocessor,  # noqa: E402
                        BookMeanPreprocessor, BookPatchPreprocessor, best_of, book_generator,
                        synthetic_image)

from pyimagesearch.augmentation import ImageAugmenter  # noqa: E402
from pyimagesearch.io import HDF5DatasetGenerator, HDF5DatasetWriter
from pyimagesearch.io.readpath import chunkreader  # noqa: E402
from pyimagesearch.io.readpath.checksum import crc32  # noqa: E402
from pyimagesearch.preprocessing import (ImageToArrayPreprocessor,  # noqa: E402
                                         MeanPreprocessor, PatchPreprocessor)

# the book's Dogs vs. Cats (AlexNet) augmentation
BOOK_AUG = dict(rotation_range=20, zoom_range=0.15, width_shift_range=0.2,
                height_shift_range=0.2, shear_range=0.15, horizontal_flip=True,
                fill_mode="nearest")
MEANS = (124.96, 115.97, 106.13)
BATCH = 64
PATCH = 227


def write_file(path, count):
    rng = np.random.default_rng(0)
    with HDF5DatasetWriter((count, 256, 256, 3), path) as writer:
        for i in range(count):
            writer.add([synthetic_image(rng, 256, 256)], [i % 2])


def float32_chain():
    return [PatchPreprocessor(PATCH, PATCH, seed=0), MeanPreprocessor(*MEANS),
            ImageToArrayPreprocessor()]


def uint8_chain():
    return [PatchPreprocessor(PATCH, PATCH, seed=0)]


def read_all(path):
    with h5py.File(path, "r") as db:
        images = db["images"]
        for start in range(0, len(images), BATCH):
            images[start:start + BATCH]


def serve_epoch(gen, threads, queue=10):
    """One epoch the way a training loop takes it from `threads` threads.

    One thread: the loop calls `gen[i]` itself (Keras' `workers=1`). More: a
    pool of `threads` threads builds up to `queue` batches ahead (Keras'
    `max_queue_size`), and the loop takes each batch in order and drops it.
    (Keeping every batch of the epoch instead, as this benchmark once did,
    makes each batch land in fresh memory, whose page faults then dominate.)
    """
    if threads == 1:
        for index in range(len(gen)):
            gen[index]
        return
    with ThreadPoolExecutor(threads) as pool:
        pending = collections.deque()
        for index in range(len(gen)):
            pending.append(pool.submit(gen.__getitem__, index))
            if len(pending) >= queue:
                pending.popleft().result()
        while pending:
            pending.popleft().result()


def assemble_epoch(gen, threads):
    """One epoch built by `threads` threads taking batches in turn, each dropped when built.

    The batch assembly alone: no loop takes the batches, so on 2 cores no
    third thread competes with the two that build them.
    """
    def build(first):
        for index in range(first, len(gen), threads):
            gen[index]
    workers = [threading.Thread(target=build, args=(first,)) for first in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def make_generator(path, chain, aug=None, read_path="auto"):
    augmenter = None if aug is None else ImageAugmenter(**aug, seed=0)
    return HDF5DatasetGenerator(path, BATCH, preprocessors=chain(), aug=augmenter, read_path=read_path)


def run_generator(path, chain, aug=None, threads=1, read_path="auto"):
    """A cold epoch: a new generator, so every chunk is read and verified in the run."""
    def run():
        with make_generator(path, chain, aug, read_path) as gen:
            serve_epoch(gen, threads)
    return run


def epoch_rates(path, count, repeat, chain, aug=None, ways=((1, None),), read_path="auto", verify=False,
                epochs=1):
    """Images/s of one generator served each way of `ways`, after a first epoch that sets it up.

    `ways` holds `(threads, epoch)` pairs, `epoch` being `serve_epoch` (a
    loop takes the batches; also for None) or `assemble_epoch`. Each way is
    timed `repeat` times over `epochs` epochs, the ways in turn, so that a
    busy spell of the machine slows them alike; the best timing counts.
    `verify=True` has every chunk's checksum verified again in each timed
    epoch, as in a first pass over the file (the memory map verifies a chunk
    once per opening; h5py verifies on every read in any case).

    Returns:
        One rate per way, in order.
    """
    ways = [(threads, epoch or serve_epoch) for (threads, epoch) in ways]
    best = [math.inf] * len(ways)
    with make_generator(path, chain, aug, read_path) as gen:
        for (threads, epoch) in ways:
            epoch(gen, threads)
        for _ in range(repeat):
            for (k, (threads, epoch)) in enumerate(ways):
                start = time.perf_counter()
                for _ in range(epochs):
                    if verify and gen.file._reader is not None:
                        gen.file._reader.verified[:] = False
                    epoch(gen, threads)
                best[k] = min(best[k], time.perf_counter() - start)
    return [epochs * count / seconds for seconds in best]


def first_pass_ceiling(path, repeat):
    """What this machine allows two threads on a first pass: its work done by bare threads.

    A first pass over the file verifies every chunk (its whole rows) and then
    copies the patches; here bare threads do exactly that from a map of the
    same file, chunk by chunk (`crc32`, then one `cv2.vconcat` of the
    chunk's patches), each thread into its own buffer: no generator, no
    Python per image, nothing handed on. Returns img/s for 1 and 2 threads.
    """
    with h5py.File(path, "r") as db:
        images = db["images"]
        (count, row_shape, rows) = (len(images), images.shape[1:], images.chunks[0])
        offsets = [images.id.get_chunk_info(i).byte_offset for i in range(images.id.get_num_chunks())]
    with open(path, "rb") as handle:
        mapped = np.frombuffer(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ), np.uint8)
    row_bytes = int(np.prod(row_shape))
    chunks = [mapped[offset:offset + rows * row_bytes] for offset in offsets]
    rng = np.random.default_rng(0)
    (ys, xs) = (rng.integers(0, 256 - PATCH + 1, count).tolist(), rng.integers(0, 256 - PATCH + 1, count).tolist())
    plan = []  # per batch: (chunk, its patches, first output line)
    for start in range(0, count - BATCH + 1, BATCH):
        steps = []
        for chunk in range(start // rows, (start + BATCH - 1) // rows + 1):
            inside = range(max(start, chunk * rows), min(start + BATCH, (chunk + 1) * rows))
            block = chunks[chunk].reshape((rows,) + row_shape)
            steps.append((chunk, [block[r % rows, ys[r]:ys[r] + PATCH, xs[r]:xs[r] + PATCH] for r in inside],
                          (inside[0] - start) * PATCH))
        plan.append(steps)

    def run(threads):
        def work(first):
            out = np.empty((BATCH * PATCH, PATCH, 3), np.uint8)
            for index in range(first, len(plan), threads):
                for (chunk, patches, line) in plan[index]:
                    crc32(chunks[chunk])
                    cv2.vconcat(patches, dst=out[line:line + len(patches) * PATCH])
        workers = [threading.Thread(target=work, args=(first,)) for first in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    run(2)
    return [len(plan) * BATCH / best_of(repeat, lambda: run(n)) for n in (1, 2)]


def keras_rate(path, aug, workers, epochs=2):
    """Img/s a Keras training loop receives from the generator with `workers` threads, mid-epoch.

    Keras' own `PyDatasetAdapter` (what `model.fit` iterates): `workers=1`
    calls `gen[i]` in the loop, `workers=2` goes through Keras'
    `OrderedEnqueuer` (a `multiprocessing.dummy` pool). The middle 60% of
    each epoch is timed, so the enqueuer's start and its 0.1 s drain at the
    epoch's end are left out.
    """
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    augmenter = None if aug is None else ImageAugmenter(**aug, seed=0)
    best = 0.0
    with HDF5DatasetGenerator(path, BATCH, preprocessors=uint8_chain(), aug=augmenter,
                              workers=workers) as gen:
        adapter = PyDatasetAdapter(gen, shuffle=False)
        for _ in range(epochs):
            stamps = [time.perf_counter() for _ in adapter.get_numpy_iterator()]
            adapter.on_epoch_end()
            skip = len(stamps) // 5
            best = max(best, (len(stamps) - 1 - 2 * skip) * BATCH / (stamps[-1 - skip] - stamps[skip]))
    return best


def gil_share(gen, batches=30):
    """Share of a batch's time spent holding the GIL, one thread, chunks verified before.

    Everything a batch does runs under the GIL except OpenCV's calls, the
    CRC32 and the positional reads (`preadv`, through ctypes for patches and
    `os.preadv` for rows), which release it: the batch's time outside them,
    timed around each call, is the share that threads cannot overlap.
    """
    outside = [0.0]

    def timed(function):
        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                outside[0] += time.perf_counter() - start
        return call

    originals = (os.preadv, chunkreader.crc32, chunkreader._PREADV, cv2.warpAffine, cv2.cvtColor)
    (os.preadv, chunkreader.crc32, chunkreader._PREADV, cv2.warpAffine, cv2.cvtColor) = (
        timed(f) for f in originals)
    try:
        start = time.perf_counter()
        for index in range(batches):
            gen[index % len(gen)]
        total = time.perf_counter() - start
    finally:
        (os.preadv, chunkreader.crc32, chunkreader._PREADV, cv2.warpAffine, cv2.cvtColor) = originals
    return 1 - outside[0] / total


def simulated_device(gen, workers, rate, batches, queue=10):
    """Efficiency of feeding a device that consumes `rate` img/s: delivered img/s / rate.

    `workers` threads build batches ahead (at most `queue` waiting, as
    PyDataset's `max_queue_size`); the device takes each batch in order and
    sleeps `len(batch) / rate` seconds, releasing the GIL as a GPU step does.
    """
    with ThreadPoolExecutor(workers) as pool:
        pending = collections.deque(pool.submit(gen.__getitem__, i % len(gen)) for i in range(queue))
        submitted, images = queue, 0
        pending.popleft().result()  # the first batch fills the pipeline: not timed
        start = time.perf_counter()
        for _ in range(batches):
            pending.append(pool.submit(gen.__getitem__, submitted % len(gen)))
            submitted += 1
            batch = pending.popleft().result()[0]
            time.sleep(len(batch) / rate)
            images += len(batch)
        elapsed = time.perf_counter() - start
        for future in pending:
            future.cancel()
    return images / elapsed / rate


def bench_device(path, batches):
    rates, rows = (5_000, 10_000, 20_000), []
    print(f"\nsimulated device: efficiency = delivered img/s / device img/s, uint8 path, {PATCH} patches, "
          f"read_path='mmap' (warm), {batches} batches of {BATCH}")
    print("| augmentation | workers | " + " | ".join(f"{r:,} img/s" for r in rates) + " |")
    print("|---|---:|" + "---:|" * len(rates))
    found = {}
    for aug in (None, BOOK_AUG):
        for workers in (1, 2):
            with make_generator(path, uint8_chain, aug) as gen:
                serve_epoch(gen, 1)
                cells = [simulated_device(gen, workers, rate, batches) for rate in rates]
            found[(aug is not None, workers)] = dict(zip(rates, cells))
            rows.append(f"| {'book' if aug else 'none'} | {workers} | "
                        + " | ".join(f"{c:.2f}" for c in cells) + " |")
    print("\n".join(rows))
    return found


def bench_scaling(path, count, repeat, counts):
    """Warm img/s for each thread count: the data for README's scaling law on a bigger host."""
    print(f"\nscaling, uint8 chain, mmap (warm), {os.cpu_count()} cores: img/s by threads")
    print("| augmentation | " + " | ".join(str(n) for n in counts) + " |\n|---|" + "---:|" * len(counts))
    for aug in (None, BOOK_AUG):
        cells = epoch_rates(path, count, repeat, uint8_chain, aug, [(n, None) for n in counts])
        print(f"| {'book' if aug else 'none'} | " + " | ".join(f"{c:,.0f}" for c in cells) + " |")


def bench_book(folder, count, repeat):
    """The generator (float32 chain, default read path, checksums on) against the book's algorithm."""
    rng = np.random.default_rng(0)
    book_path, ours_path = os.path.join(folder, "book.hdf5"), os.path.join(folder, "ours.hdf5")
    book = BookHDF5DatasetWriter((count, 256, 256, 3), book_path)
    with HDF5DatasetWriter((count, 256, 256, 3), ours_path) as ours:
        for i in range(count):
            image = synthetic_image(rng, 256, 256)
            book.add([image], [i % 2])
            ours.add([image], [i % 2])
    book.close()
    book_pre = [BookPatchPreprocessor(PATCH, PATCH), BookMeanPreprocessor(*MEANS),
                BookImageToArrayPreprocessor()]

    def run_book():
        for _ in book_generator(book_path, BATCH, book_pre, 2):
            pass

    (run_ours, t_book, t_ours) = (run_generator(ours_path, float32_chain), math.inf, math.inf)
    for _ in range(max(repeat, 5)):  # in turn, so that a busy spell slows both alike
        (t_book, t_ours) = (min(t_book, best_of(1, run_book)), min(t_ours, best_of(1, run_ours)))
    print(f"\nthe book's exact algorithm ({count} images): {count / t_book:,.0f} img/s; the generator "
          f"(float32 chain, cold, checksums verified) {count / t_ours:,.0f} img/s -> {t_book / t_ours:.1f}x")
    return t_book / t_ours


def bench_read_paths(path, count, repeat):
    """Read paths and threads: img/s of the uint8 chain, batch assembly alone and served to a loop."""
    found = {}
    print(f"\nread paths and threads, uint8 chain ({PATCH} patch), batch {BATCH}, img/s: 1 thread "
          f"(the loop calls gen[i]); 2 threads building batches in turn, alone (assembly) and serving a "
          f"loop through a queue of 10 (3 threads on {os.cpu_count()} cores)")
    print("| read path | aug | 1 thread | 2 threads, assembly | 2 / 1 | 2 threads, serving a loop | 2 / 1 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    cases = [("h5py", True), ("mmap", True), ("mmap", False)]
    for (read_path, verify) in cases:
        for aug in (None, BOOK_AUG):
            # an epoch without augmentation takes some 30 ms here: time several, more often
            (one, two, served) = epoch_rates(
                path, count, repeat if aug else 3 * repeat, uint8_chain, aug,
                [(1, None), (2, assemble_epoch), (2, serve_epoch)],
                read_path=read_path, verify=verify, epochs=1 if aug else 5)
            found[(read_path, verify, aug is not None)] = (one, two, served)
            state = "checksums verified" if verify else "chunks verified before"
            print(f"| {read_path} ({state}) | {'book' if aug else 'none'} | {one:,.0f} | {two:,.0f} | "
                  f"{two / one:.2f}x | {served:,.0f} | {served / one:.2f}x |")
    (one, two) = first_pass_ceiling(path, repeat)
    found["ceiling"] = (one, two)
    print(f"| bare threads doing a first pass's work (crc32 of each chunk, then one cv2.vconcat of its "
          f"patches; no Python per image) | none | {one:,.0f} | {two:,.0f} | {two / one:.2f}x | | |")
    for aug in (None, BOOK_AUG):
        one, two = keras_rate(path, aug, 1), keras_rate(path, aug, 2)
        found[("keras", aug is not None)] = (one, two)
        print(f"| Keras' PyDataset adapter, workers=1 / 2 (chunks verified before, mid-epoch) | "
              f"{'book' if aug else 'none'} | {one:,.0f} | | | {two:,.0f} | {two / one:.2f}x |")
    shares = {}
    for aug in (None, BOOK_AUG):
        with make_generator(path, uint8_chain, aug) as gen:
            serve_epoch(gen, 1)
            shares[aug is not None] = gil_share(gen)
    print(f"share of a batch's time holding the GIL (mmap, chunks verified before; the time outside "
          f"OpenCV's calls and the CRC32): {100 * shares[False]:.0f}% without "
          f"augmentation, {100 * shares[True]:.0f}% with; Amdahl's ceiling on threads: "
          f"{1 / max(shares[False], 1e-3):.1f}x and {1 / max(shares[True], 1e-3):.1f}x")
    print("copies of a uint8 batch between the file and the array handed to Keras (from the code): "
          "h5py path 3 (file -> HDF5's chunk buffer -> batch -> patch); direct path (read_path='mmap') 1 "
          "(preadv puts each patch line from the page cache into the batch; 2 when the chain does not "
          "start with PatchPreprocessor, and on a chunk's first read, which reads each row of the chunk "
          "through a one-row buffer to verify its CRC32 before cutting the patch)")
    return found, shares


def bench_chains(path, count, repeat):
    rate = lambda function: count / best_of(repeat, function)  # noqa: E731
    raw = rate(lambda: read_all(path))
    f32 = rate(run_generator(path, float32_chain))
    u8 = rate(run_generator(path, uint8_chain))
    f32_aug = rate(run_generator(path, float32_chain, BOOK_AUG))
    u8_aug = rate(run_generator(path, uint8_chain, BOOK_AUG))
    with HDF5DatasetGenerator(path, BATCH, preprocessors=float32_chain()) as gen:
        f32_batch = gen[0]
    with HDF5DatasetGenerator(path, BATCH, preprocessors=uint8_chain()) as gen:
        u8_batch = gen[0]
    (f32_bytes, u8_bytes) = (f32_batch[0].nbytes, u8_batch[0].nbytes)
    print(f"\ngenerator, batch {BATCH}, random {PATCH} patch, one thread ({count} images 256x256), "
          f"default read path (mmap), cold")
    print("| path | img/s |\n|---|---:|")
    print(f"| raw uint8 read through h5py (fletcher32 in HDF5) | {raw:,.0f} |")
    print(f"| float32 (book chain: patch + mean + to-array) | {f32:,.0f} |")
    print(f"| uint8 (patch; mean in the model) | {u8:,.0f} |")
    print(f"| float32 + book augmentation | {f32_aug:,.0f} |")
    print(f"| uint8 + book augmentation (uint8 in and out) | {u8_aug:,.0f} |")
    print(f"bytes per batch to the model: float32 {f32_bytes / 2**20:.1f} MiB, "
          f"uint8 {u8_bytes / 2**20:.1f} MiB -> 1/{f32_bytes / u8_bytes:.0f}")
    print(f"process workers (use_multiprocessing) return batches as pickles; the main process "
          f"unpickles every batch, a serial ceiling of: float32 {pickle_ceiling(f32_batch, repeat):,.0f} "
          f"img/s, uint8 {pickle_ceiling(u8_batch, repeat):,.0f} img/s")
    return {"uint8_vs_float32": u8 / f32, "uint8_vs_raw_h5py_read": u8 / raw,
            "aug_uint8_vs_float32": u8_aug / f32_aug, "bytes_ratio": u8_bytes / f32_bytes}


def bench_processes(path, count, repeat):
    """`model.predict` with 2 process workers: float32 and uint8 batches, pickles and /dev/shm.

    Run last among the generator's measurements: the worker processes fork
    this one, and every page written after a fork is copied first.
    """
    f32_procs = count / best_of(repeat, predict_run(path, float32_chain, uint8=False))
    u8_procs = count / best_of(repeat, predict_run(path, uint8_chain, uint8=True))
    u8_shared = count / best_of(repeat, predict_run(path, uint8_chain, uint8=True, shared=True))
    print(f"\nmodel.predict(generator, workers=2, use_multiprocessing=True), near-free model: "
          f"float32 {f32_procs:,.0f} img/s, uint8 {u8_procs:,.0f} img/s ({u8_procs / f32_procs:.1f}x), "
          f"uint8 with shared_memory=True {u8_shared:,.0f} img/s ({u8_shared / u8_procs:.2f}x pickles)")


def predict_run(path, chain, uint8, shared=False):
    """`model.predict` over the generator with 2 process workers; the model only pools.

    The generator (and its worker processes) closes when the returned
    function is dropped.
    """
    import keras

    from pyimagesearch.nn.layers import uint8_model

    model = keras.Sequential([keras.Input((PATCH, PATCH, 3)), keras.layers.GlobalAveragePooling2D()])
    if uint8:
        model = uint8_model(model, mean=MEANS)
    with HDF5DatasetGenerator(path, BATCH, preprocessors=chain()) as plain:
        model.predict(plain, verbose=0)  # traces
    gen = HDF5DatasetGenerator(path, BATCH, preprocessors=chain(), workers=2,
                               use_multiprocessing=True, shared_memory=shared)
    run = lambda: model.predict(gen, verbose=0)  # noqa: E731
    weakref.finalize(run, gen.close)
    return run


def pickle_ceiling(batch, repeat):
    """Images/s at which one process can unpickle `batch` (a worker process's result)."""
    data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
    return len(batch[0]) / best_of(max(repeat, 3), lambda: pickle.loads(data))


def throughput(augment, images, seconds):
    """Images per second of `augment(images)` over at least `seconds` (after a warm-up call)."""
    augment(images)
    (count, start) = (0, time.perf_counter())
    while time.perf_counter() - start < seconds:
        augment(images)
        count += len(images)
    return count / (time.perf_counter() - start)


def albumentations_augment():
    """Affine + HorizontalFlip with BOOK_AUG's ranges, or None when not installed."""
    try:
        import albumentations as A
    except ImportError:
        return None
    zoom = BOOK_AUG["zoom_range"]
    shift = BOOK_AUG["width_shift_range"]
    transform = A.Compose([
        A.Affine(rotate=(-BOOK_AUG["rotation_range"], BOOK_AUG["rotation_range"]),
                 scale={"x": (1 - zoom, 1 + zoom), "y": (1 - zoom, 1 + zoom)},
                 translate_percent={"x": (-shift, shift), "y": (-shift, shift)},
                 shear=(-BOOK_AUG["shear_range"], BOOK_AUG["shear_range"]),
                 interpolation=cv2.INTER_LINEAR, border_mode=cv2.BORDER_REPLICATE, p=1.0),
        A.HorizontalFlip(p=0.5),
    ])
    return lambda batch: np.stack([transform(image=image)["image"] for image in batch])


def bench_augmenters(seconds):
    import keras

    from pyimagesearch.nn.layers import device_augmentation

    rng = np.random.default_rng(1)
    images = np.stack([synthetic_image(rng, PATCH, PATCH) for _ in range(BATCH)])
    ours = ImageAugmenter(**BOOK_AUG, seed=0)
    layers = device_augmentation(ours, seed=0)
    layers.build((None, PATCH, PATCH, 3))
    floats = images.astype("float32")
    rates = {"ImageAugmenter": throughput(ours.augment_batch, images, seconds)}
    albu = albumentations_augment()
    if albu is not None:
        rates["albumentations Affine + HorizontalFlip"] = throughput(albu, images, seconds)
    rates["Keras 3 layers (RandomRotation/Translation/Zoom/Shear/Flip), CPU"] = throughput(
        lambda batch: keras.ops.convert_to_numpy(layers(batch, training=True)), floats, seconds)
    print(f"\naugmentation, book's Dogs vs. Cats ranges, {PATCH}x{PATCH} uint8, batch {BATCH}")
    print("| augmenter | img/s | ImageAugmenter's speed |\n|---|---:|---:|")
    for (name, value) in rates.items():
        print(f"| {name} | {value:,.0f} | {rates['ImageAugmenter'] / value:.1f}x |")
    if albu is None:
        print("albumentations: SKIPPED, not installed "
              "(pip install -e \".[bench]\" installs albumentations 2.0.8 with albucore 0.0.24)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1280,
                        help="images in the file (default: 1280, 20 batches: 2 threads can halve an epoch)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing, best kept (default: 3)")
    parser.add_argument("--book-images", type=int, default=128,
                        help="images for the book's algorithm, float64 on disk (default: 128)")
    parser.add_argument("--device-batches", type=int, default=60,
                        help="batches per simulated device run (default: 60)")
    parser.add_argument("--scaling", metavar="N,N,...",
                        help="also print warm img/s for these thread counts (e.g. 1,2,4,8,16 on a big host)")
    parser.add_argument("--quick", action="store_true", help="short timings, for a smoke run")
    args = parser.parse_args()
    if args.images < BATCH or args.book_images < BATCH:
        parser.error(f"--images and --book-images must be at least {BATCH}")
    repeat = 1 if args.quick else args.repeat
    try:
        counts = [int(n) for n in args.scaling.split(",")] if args.scaling else []
    except ValueError:
        parser.error(f"--scaling must be thread counts separated by commas, got {args.scaling!r}")
    if any(n < 1 for n in counts):
        parser.error(f"--scaling counts must be positive, got {args.scaling!r}")
    cv2.setNumThreads(1)
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as folder:
        path = os.path.join(folder, "images.hdf5")
        write_file(path, args.images)
        chains = bench_chains(path, args.images, repeat)
        paths, shares = bench_read_paths(path, args.images, repeat)
        device = bench_device(path, args.device_batches // (3 if args.quick else 1))
        if counts:
            bench_scaling(path, args.images, repeat, counts)
        bench_processes(path, args.images, repeat)
        book = bench_book(folder, args.book_images, repeat)
    bench_augmenters(0.3 if args.quick else 3.0)
    ratio = lambda key, column=1: paths[key][column] / paths[key][0]  # noqa: E731
    rows = [
        ("uint8 path, 1 thread, mmap (checksums verified) / h5py",
         paths[("mmap", True, False)][0] / paths[("h5py", True, False)][0], ">= 2"),
        ("  the same, chunks verified before / h5py",
         paths[("mmap", False, False)][0] / paths[("h5py", True, False)][0], "(info)"),
        ("2 / 1 threads, batch assembly, no augmentation (mmap; epochs after the first)",
         ratio(("mmap", False, False)), ">= 1.7"),
        ("2 / 1 threads, batch assembly, book augmentation (mmap; epochs after the first)",
         ratio(("mmap", False, True)), ">= 1.8"),
        ("  2 / 1, assembly, no augmentation, first pass (checksums verified)",
         ratio(("mmap", True, False)), "(info)"),
        ("  2 / 1, assembly, book augmentation, first pass (checksums verified)",
         ratio(("mmap", True, True)), "(info)"),
        ("  2 / 1, bare threads doing a first pass's work (what this machine allows)",
         paths["ceiling"][1] / paths["ceiling"][0], "(info)"),
        ("  2 / 1, serving a loop, no augmentation, epochs after the first",
         ratio(("mmap", False, False), 2), "(info)"),
        ("  2 / 1, serving a loop, book augmentation, epochs after the first",
         ratio(("mmap", False, True), 2), "(info)"),
        ("  2 / 1 through Keras' enqueuer, no augmentation", ratio(("keras", False)), "(info)"),
        ("  2 / 1 through Keras' enqueuer, book augmentation", ratio(("keras", True)), "(info)"),
        ("generator (float32, checksums) / book's exact algorithm", book, ">= 5"),
        ("10,000 img/s device fed by 2 workers, no augmentation: efficiency",
         device[(False, 2)][10_000], ">= 0.9"),
        ("share of a batch holding the GIL, no augmentation", shares[False], "(info)"),
        ("share of a batch holding the GIL, book augmentation", shares[True], "(info)"),
        ("uint8 / float32 chain, 1 thread", chains["uint8_vs_float32"], ">= 2"),
        ("uint8 / float32 chain with augmentation", chains["aug_uint8_vs_float32"], ">= 1.5"),
        ("bytes per batch, uint8 / float32", chains["bytes_ratio"], "= 0.25"),
        ("copies of a uint8 batch, file -> Keras (mmap path; h5py path 3)", 1, "<= 1"),
    ]
    print(f"\nload average {os.getloadavg()[0]:.2f} at end")
    print(f"\ntargets (issue 17 and the uint8 path), {args.images} images, repeat {repeat}"
          f"{', --quick' if args.quick else ''}")
    print("| measure | ratio | target | |\n|---|---:|---|---|")
    for (name, value, target) in rows:
        verdict = ""
        if target != "(info)":
            (op, bound) = target.split()
            bound = float(bound)
            ok = {">=": value >= bound, "<=": value <= bound, "=": math.isclose(value, bound)}[op]
            verdict = "met" if ok else "MISSED"
        print(f"| {name} | {value:.2f} | {target} | {verdict} |")


if __name__ == "__main__":
    main()
