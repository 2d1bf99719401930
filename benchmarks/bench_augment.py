"""ImageAugmenter against Keras 2's ImageDataGenerator, same run, same parameters.

The baseline is `tf_keras.preprocessing.image.ImageDataGenerator` (the
`tf-keras` package: `pip install tf-keras`), the class every chapter of the
book trains with; without it the benchmark prints a note and exits. Uses the
book's Tiny ImageNet parameters, at 64x64 and 227x227, one process; OpenCV
is held to one thread so that both sides use one core.

    python benchmarks/bench_augment.py [--quick]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

from pyimagesearch.augmentation import ImageAugmenter  # noqa: E402

BOOK = dict(rotation_range=18, zoom_range=0.15, width_shift_range=0.2,
            height_shift_range=0.2, shear_range=0.15, horizontal_flip=True,
            fill_mode="nearest")
BATCH = 32


def throughput(next_batch, seconds):
    """Images per second of `next_batch()` over at least `seconds` (after a warm-up batch)."""
    next_batch()
    (count, start) = (0, time.perf_counter())
    while time.perf_counter() - start < seconds:
        count += len(next_batch())
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timings")
    args = parser.parse_args()
    try:
        from tf_keras.preprocessing.image import ImageDataGenerator
    except ImportError:
        print("SKIPPED: tf-keras is not installed (pip install tf-keras); it provides "
              "the ImageDataGenerator baseline.")
        return 0
    import cv2

    cv2.setNumThreads(1)
    seconds = 1.0 if args.quick else 4.0
    rng = np.random.default_rng(0)
    print(f"book's Tiny ImageNet augmentation, batch {BATCH}, float32 images, one core each")
    print(f"{'size':>9} {'ImageDataGenerator':>20} {'ImageAugmenter':>16} {'ratio':>7} {'max |diff|':>11}")
    for size in (64, 227):
        x = (rng.random((256, size, size, 3)) * 255).astype("float32")
        y = np.arange(len(x))
        baseline = ImageDataGenerator(**BOOK).flow(x, y, batch_size=BATCH, seed=1)
        ours = ImageAugmenter(**BOOK, seed=1).flow(x, y, batch_size=BATCH, seed=1)
        old = throughput(lambda: next(baseline)[0], seconds)
        new = throughput(lambda: next(ours)[0], seconds)
        # same transform parameters through both: the results should agree
        aug = ImageAugmenter(**BOOK)
        reference = ImageDataGenerator(**BOOK)
        diff = 0.0
        for i in range(8):
            params = aug.get_random_transform(x[i].shape, seed=i)
            diff = max(diff, float(np.abs(aug.apply_transform(x[i], params)
                                          - reference.apply_transform(x[i], params)).max()))
        print(f"{size:>4}x{size:<4} {old:>14.0f} img/s {new:>10.0f} img/s {new / old:>6.1f}x {diff:>11.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
