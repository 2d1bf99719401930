"""Build the Tiny ImageNet HDF5 datasets: training, validation and test.

Practitioner Bundle, chapter 11 ("GoogLeNet"), build_tiny_imagenet.py: the
training images are train/{wnid}/images/*.JPEG, labelled by their WordNet id
(encoded in sorted order, as LabelEncoder does); a stratified test split of 50
images per class is taken from them, since the dataset's own test images carry
no labels; the validation split is the dataset's val/images, labelled by
val/val_annotations.txt. Images are stored as uint8 64x64 BGR rows in
train.hdf5, val.hdf5 and test.hdf5 with the WordNet ids as class names, and the
RGB means of the training split are written to the means JSON, all by
pyimagesearch.io.build_hdf5_splits (which decodes in parallel and skips and
lists unreadable images). Paths and sizes come from
config/tiny_imagenet_config.py (TINY_IMAGENET_ROOT, ...).
The HDF5 files also serve chapter 12's resnet_tinyimagenet scripts.

Usage:
    TINY_IMAGENET_ROOT=../datasets/tiny-imagenet-200 python build_tiny_imagenet.py
"""

import argparse
import os

from pyimagesearch.cli import run_main
from config import tiny_imagenet_config as config  # puts examples/ on sys.path


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-w", "--workers", type=int, default=None,
                        help="image decoding threads (default: one per CPU core)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing HDF5 files and means")
    return parser


# the book's test split: 50 of the 500 training images of every class
BOOKS_TEST_SHARE = 0.1


def say_test_split(count):
    """Says how much of train/ the test split takes, and warns when it is more than the book's 10%."""
    share = config.NUM_TEST_IMAGES / count if count else 1.0
    print(f"[INFO] test split: {config.NUM_TEST_IMAGES // config.NUM_CLASSES} images per class "
          f"(TINY_IMAGENET_TEST_PER_CLASS) of train/'s {count} images: {share:.0%}")
    if share > BOOKS_TEST_SHARE + 1e-9:
        print(f"[WARNING] the test split takes {share:.0%} of the training images, where the book's "
              f"takes {BOOKS_TEST_SHARE:.0%} (50 of 500 per class); set TINY_IMAGENET_TEST_PER_CLASS "
              "lower to train on more")


def run(args):
    from pyimagesearch.datasets import list_images, read_val_annotations, read_wnids
    from pyimagesearch.io import build_hdf5_splits

    # the classes, and the training images labelled by their train/{wnid}/images folder
    wnids = read_wnids(config.WORDNET_IDS)
    if len(wnids) != config.NUM_CLASSES or len(set(wnids)) != len(wnids):
        raise ValueError(f"{config.WORDNET_IDS!r} lists {len(set(wnids))} distinct WordNet ids, "
                         f"expected NUM_CLASSES={config.NUM_CLASSES} (TINY_IMAGENET_NUM_CLASSES).")
    trainPaths = list_images(config.TRAIN_IMAGES)
    trainLabels = [os.path.basename(os.path.dirname(os.path.dirname(p))) for p in trainPaths]
    unknown = sorted(set(trainLabels) - set(wnids))
    if unknown:
        raise ValueError(f"{config.TRAIN_IMAGES!r} holds folders {unknown[:5]} that "
                         f"{config.WORDNET_IDS!r} does not list.")
    missing = sorted(set(wnids) - set(trainLabels))
    if missing:
        raise ValueError(f"{config.TRAIN_IMAGES!r} has no images for {missing[:5]}.")
    classNames = sorted(wnids)
    say_test_split(len(trainPaths))

    # the validation images and their labels from val_annotations.txt
    (valPaths, valWnids) = read_val_annotations(config.VAL_MAPPINGS, config.VAL_IMAGES)
    unknown = sorted(set(valWnids) - set(wnids))
    if unknown:
        raise ValueError(f"{config.VAL_MAPPINGS!r} labels images with {unknown[:5]}, not "
                         f"listed in {config.WORDNET_IDS!r}.")

    print(f"[INFO] building the splits: train and test from {config.TRAIN_IMAGES}, "
          f"val from {config.VAL_IMAGES}...")
    report = build_hdf5_splits(
        trainPaths, config.HDF5_PATH, labels=trainLabels, size=config.IMAGE_SIZE,
        test_size=config.NUM_TEST_IMAGES, val_images=valPaths, val_labels=valWnids,
        means_name=os.path.basename(config.DATASET_MEAN), workers=args.workers, overwrite=args.overwrite,
    )
    # the same label encoding in every split
    assert report.class_names == classNames
    print(f"[INFO] {len(classNames)} classes")
    print(f"[INFO] train: {report.counts['train']} images -> {report.paths['train']}")
    print(f"[INFO] val: {report.counts['val']} images -> {report.paths['val']}")
    print(f"[INFO] test: {report.counts['test']} images -> {report.paths['test']}")
    means = ", ".join(f"{channel}={value:.2f}" for (channel, value) in report.means.items())
    print(f"[INFO] means ({means}) -> {report.means_path}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
