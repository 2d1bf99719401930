"""Build the Dogs vs. Cats HDF5 datasets: training, validation and test.

Practitioner Bundle, chapter 9 ("Working with HDF5 and Large Datasets"),
build_dogs_vs_cats.py: the labels are the Kaggle file-name prefixes
(cat.N.jpg, dog.N.jpg); 1,250 images per class are held out for testing and
1,250 per class for validation (stratified); every image is resized
aspect-aware to 256x256 and stored as uint8 in train.hdf5, val.hdf5 and
test.hdf5; the RGB means of the training set are written to the means JSON.
Paths and sizes come from config/dogs_vs_cats_config.py (environment
variables DOGS_VS_CATS_ROOT, DOGS_VS_CATS_HDF5, ...). A thin script over
pyimagesearch.io.build_hdf5_splits: images are decoded in parallel and
unreadable ones are skipped and listed.

Usage:
    DOGS_VS_CATS_ROOT=../datasets/kaggle_dogs_vs_cats python build_dogs_vs_cats.py
"""

import argparse
import os

from pyimagesearch.cli import run_main
from config import dogs_vs_cats_config as config  # puts examples/ on sys.path


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-w", "--workers", type=int, default=None,
                        help="image decoding threads (default: one per CPU core)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing HDF5 files and means")
    return parser


def check_split_sizes(count):
    """Refuses held-out splits that leave too few training images, in the config's words."""
    held = config.NUM_VAL_IMAGES + config.NUM_TEST_IMAGES
    if held + config.NUM_CLASSES > count:
        raise ValueError(
            f"{config.IMAGES_PATH!r} holds {count} images: too few to hold out "
            f"DOGS_VS_CATS_VAL_PER_CLASS={config.NUM_VAL_IMAGES // config.NUM_CLASSES} and "
            f"DOGS_VS_CATS_TEST_PER_CLASS={config.NUM_TEST_IMAGES // config.NUM_CLASSES} images per "
            f"class ({held} in all) and still train; set smaller values in the environment.")


def run(args):
    from pyimagesearch.datasets import list_images
    from pyimagesearch.io import build_hdf5_splits

    if os.path.isdir(config.IMAGES_PATH):
        check_split_sizes(len(list_images(config.IMAGES_PATH)))
    print(f"[INFO] building HDF5 datasets from {config.IMAGES_PATH}...")
    report = build_hdf5_splits(
        config.IMAGES_PATH, config.HDF5_PATH, label_from="prefix", size=config.IMAGE_SIZE,
        val_size=config.NUM_VAL_IMAGES, test_size=config.NUM_TEST_IMAGES,
        means_name=os.path.basename(config.DATASET_MEAN), workers=args.workers,
        overwrite=args.overwrite,
    )
    if len(report.class_names) != config.NUM_CLASSES:
        raise ValueError(f"{config.IMAGES_PATH!r} holds classes {report.class_names}, "
                         f"expected {config.NUM_CLASSES} (cat and dog).")
    print(f"[INFO] classes: {', '.join(report.class_names)}")
    for name in ("train", "val", "test"):
        print(f"[INFO] {name}: {report.counts[name]} images -> {report.paths[name]}")
    means = ", ".join(f"{channel}={value:.2f}" for (channel, value) in report.means.items())
    print(f"[INFO] means ({means}) -> {report.means_path}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
