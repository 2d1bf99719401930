"""The host side of feeding a GPU: the uint8 path against today's float32 path, one run.

    python benchmarks/bench_pipeline.py [--images 300] [--repeat 3] [--quick]

On an HDF5 file of 256x256 uint8 images (synthetic, photo-like), batch 64,
random 227 patch as in the book's Dogs vs. Cats project, one core (OpenCV
held to one thread):

1. raw uint8 read of the batches from the file (the limit);
2. the generator's float32 path, the book's chain: patch + mean + to-array;
3. the uint8 path: patch only, the mean left to the model's MeanSubtraction;
4. both again with the book's augmentation (ImageAugmenter) after the chain;
5. bytes per batch handed to the model;
6. the generator under 1 and 2 threads (what `workers=2` does), the share
   of a batch's time spent in the HDF5 read (h5py serialises reads), and
   process workers (`use_multiprocessing`), which send batches back pickled
   or, with `shared_memory=True`, through /dev/shm;
7. augmentation at 227x227 on the same uint8 images and parameter ranges:
   ImageAugmenter vs albumentations (Affine + HorizontalFlip; the `bench`
   extra) vs Keras 3 preprocessing layers on the CPU (`device_augmentation`).

Every timing is the best of --repeat runs; the ratios are what to compare.
"""

import argparse
import math
import os
import pickle
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import cv2  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_hdf5 import best_of, synthetic_image  # noqa: E402

from pyimagesearch.augmentation import ImageAugmenter  # noqa: E402
from pyimagesearch.io import HDF5DatasetGenerator, HDF5DatasetWriter  # noqa: E402
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


def run_generator(path, chain, aug=None, threads=1):
    """Serves one epoch the way `PyDataset(workers=threads)` does: a pool calling `__getitem__`."""
    def run():
        augmenter = None if aug is None else ImageAugmenter(**aug, seed=0)
        with HDF5DatasetGenerator(path, BATCH, preprocessors=chain(), aug=augmenter) as gen:
            if threads == 1:
                for index in range(len(gen)):
                    gen[index]
            else:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(gen.__getitem__, range(len(gen))))
    return run


def bench_generator(path, count, repeat):
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
    print(f"\ngenerator, batch {BATCH}, random {PATCH} patch, one core ({count} images 256x256)")
    print("| path | img/s |\n|---|---:|")
    print(f"| raw uint8 read from the HDF5 file (the limit) | {raw:,.0f} |")
    print(f"| float32 (book chain: patch + mean + to-array) | {f32:,.0f} |")
    print(f"| uint8 (patch; mean in the model) | {u8:,.0f} |")
    print(f"| float32 + book augmentation | {f32_aug:,.0f} |")
    print(f"| uint8 + book augmentation (uint8 in and out) | {u8_aug:,.0f} |")
    print(f"bytes per batch to the model: float32 {f32_bytes / 2**20:.1f} MiB, "
          f"uint8 {u8_bytes / 2**20:.1f} MiB -> 1/{f32_bytes / u8_bytes:.0f}")

    u8_two = rate(run_generator(path, uint8_chain, threads=2))
    u8_aug_two = rate(run_generator(path, uint8_chain, BOOK_AUG, threads=2))
    read_share, read_share_aug = u8 / raw, u8_aug / raw
    print(f"\nthreads (workers), {os.cpu_count()} cores: uint8 1 -> 2 threads "
          f"{u8:,.0f} -> {u8_two:,.0f} img/s ({u8_two / u8:.2f}x); uint8 + augmentation "
          f"{u8_aug:,.0f} -> {u8_aug_two:,.0f} img/s ({u8_aug_two / u8_aug:.2f}x)")
    print(f"share of a batch's time in the (serialised) HDF5 read: "
          f"{100 * read_share:.0f}% without augmentation, {100 * read_share_aug:.0f}% with; "
          f"ceiling on threads = 1/share: {1 / read_share:.1f}x and {1 / read_share_aug:.1f}x")
    print(f"process workers (use_multiprocessing) return batches as pickles; the main process "
          f"unpickles every batch, a serial ceiling of: float32 {pickle_ceiling(f32_batch, repeat):,.0f} "
          f"img/s, uint8 {pickle_ceiling(u8_batch, repeat):,.0f} img/s")
    f32_procs = count / best_of(repeat, predict_run(path, float32_chain, uint8=False))
    u8_procs = count / best_of(repeat, predict_run(path, uint8_chain, uint8=True))
    u8_shared = count / best_of(repeat, predict_run(path, uint8_chain, uint8=True, shared=True))
    print(f"model.predict(generator, workers=2, use_multiprocessing=True), near-free model: "
          f"float32 {f32_procs:,.0f} img/s, uint8 {u8_procs:,.0f} img/s ({u8_procs / f32_procs:.1f}x), "
          f"uint8 with shared_memory=True {u8_shared:,.0f} img/s ({u8_shared / u8_procs:.2f}x pickles)")
    return {
        "uint8_vs_float32": u8 / f32,
        "uint8_vs_raw_read": u8 / raw,
        "aug_uint8_vs_float32": u8_aug / f32_aug,
        "bytes_ratio": u8_bytes / f32_bytes,
        "threads2_uint8": u8_two / u8,
        "threads2_uint8_aug": u8_aug_two / u8_aug,
    }


def predict_run(path, chain, uint8, shared=False):
    """`model.predict` over the generator with 2 process workers; the model only pools."""
    import keras

    from pyimagesearch.nn.layers import uint8_model

    model = keras.Sequential([keras.Input((PATCH, PATCH, 3)), keras.layers.GlobalAveragePooling2D()])
    if uint8:
        model = uint8_model(model, mean=MEANS)
    gen = HDF5DatasetGenerator(path, BATCH, preprocessors=chain(), workers=2,
                               use_multiprocessing=True, shared_memory=shared)
    model.predict(HDF5DatasetGenerator(path, BATCH, preprocessors=chain()), verbose=0)  # traces
    return lambda: model.predict(gen, verbose=0)


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
    parser.add_argument("--images", type=int, default=300, help="images in the file (default: 300)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing, best kept (default: 3)")
    parser.add_argument("--quick", action="store_true", help="short timings, for a smoke run")
    args = parser.parse_args()
    if args.images < BATCH:
        parser.error(f"--images must be at least {BATCH}, got {args.images}")
    cv2.setNumThreads(1)
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as folder:
        path = os.path.join(folder, "images.hdf5")
        write_file(path, args.images)
        results = bench_generator(path, args.images, 1 if args.quick else args.repeat)
    bench_augmenters(0.3 if args.quick else 3.0)
    targets = {"uint8_vs_float32": 2.0, "uint8_vs_raw_read": 0.45,
               "aug_uint8_vs_float32": 1.5}
    print(f"\nload average {os.getloadavg()[0]:.2f} at end")
    for (name, target) in targets.items():
        verdict = "met" if results[name] >= target else "MISSED"
        print(f"target {name} >= {target}: {results[name]:.2f} ({verdict})")
    print(f"target bytes_ratio = 1/4: 1/{1 / results['bytes_ratio']:.0f}"
          f" ({'met' if math.isclose(results['bytes_ratio'], 0.25) else 'MISSED'})")
    print("ratios: " + ", ".join(f"{k}={v:.2f}" for k, v in results.items()))


if __name__ == "__main__":
    main()
