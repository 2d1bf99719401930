"""Build the Tiny ImageNet HDF5 datasets: training, validation and test.

Practitioner Bundle, chapter 11 ("GoogLeNet"), build_tiny_imagenet.py: the
training images are train/{wnid}/images/*.JPEG, labelled by their WordNet id
(encoded in sorted order, as LabelEncoder does); a stratified test split of 50
images per class is taken from them, since the dataset's own test images carry
no labels; the validation split is the dataset's val/images, labelled by
val/val_annotations.txt. Images are stored as uint8 64x64 BGR rows in
train.hdf5, val.hdf5 and test.hdf5 with the WordNet ids as class names, and the
RGB means of the training split are written to the means JSON. Paths and sizes
come from config/tiny_imagenet_config.py (TINY_IMAGENET_ROOT, ...). The
training and test splits are built by pyimagesearch.io.build_hdf5_splits,
which decodes in parallel and skips (and lists) unreadable images.
The HDF5 files also serve chapter 12's resnet_tinyimagenet scripts.

Usage:
    TINY_IMAGENET_ROOT=../datasets/tiny-imagenet-200 python build_tiny_imagenet.py
"""

import argparse
import os
import sys

try:
    from config import tiny_imagenet_config as config
except ValueError as error:
    sys.exit(f"[ERROR] {error}")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-w", "--workers", type=int, default=None,
                        help="image decoding processes (default: one per CPU core)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing HDF5 files and means")
    return parser


def read_wnids(path):
    """The WordNet ids of wnids.txt, one a line."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path!r} not found: TINY_IMAGENET_ROOT must be the "
                                "extracted tiny-imagenet-200 folder.")
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def read_val_annotations(path, images):
    """The validation image paths and WordNet ids of val_annotations.txt."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path!r} not found: TINY_IMAGENET_ROOT must be the "
                                "extracted tiny-imagenet-200 folder.")
    (paths, wnids) = ([], [])
    with open(path) as f:
        for (number, line) in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2:
                raise ValueError(f"{path!r} line {number}: expected '<image>\\t<wnid>\\t...', "
                                 f"got {line.strip()!r}.")
            paths.append(os.path.join(images, fields[0]))
            wnids.append(fields[1])
    if not paths:
        raise ValueError(f"{path!r} lists no validation image.")
    return paths, wnids


def write_val(paths, labels, classNames, overwrite):
    """Writes the given validation split to VAL_HDF5; returns (rows, skipped paths).

    TODO(lead): build_hdf5_splits cannot take a given validation set (Tiny
    ImageNet's val/ folder), so its rows are written here with the writer.
    """
    import cv2

    from pyimagesearch.io import HDF5DatasetWriter
    from pyimagesearch.preprocessing import AspectAwarePreprocessor
    from pyimagesearch.utils.progress import progress_bar

    size = config.IMAGE_SIZE
    aap = AspectAwarePreprocessor(size, size)
    skipped = []
    with HDF5DatasetWriter((len(paths), size, size, 3), config.VAL_HDF5, dtype="uint8",
                           overwrite=overwrite) as writer:
        writer.storeClassLabels(classNames)
        bar = progress_bar("Building val: ", len(paths))
        for (i, (path, label)) in enumerate(zip(paths, labels)):
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                skipped.append(path)
            else:
                writer.add([aap.preprocess(image)], [label])
            bar.update(i + 1)
        bar.finish()
        if len(skipped) == len(paths):
            raise ValueError(f"no readable validation image in {config.VAL_IMAGES!r}.")
    return writer.idx, skipped


def run(args):
    import numpy as np

    from pyimagesearch.datasets import list_images
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
    encoder = {wnid: i for (i, wnid) in enumerate(classNames)}

    # the validation images and their labels from val_annotations.txt
    (valPaths, valWnids) = read_val_annotations(config.VAL_MAPPINGS, config.VAL_IMAGES)
    unknown = sorted(set(valWnids) - set(wnids))
    if unknown:
        raise ValueError(f"{config.VAL_MAPPINGS!r} labels images with {unknown[:5]}, not "
                         f"listed in {config.WORDNET_IDS!r}.")
    valLabels = np.array([encoder[w] for w in valWnids])

    outputs = [config.TRAIN_HDF5, config.VAL_HDF5, config.TEST_HDF5, config.DATASET_MEAN]
    if not args.overwrite:
        for path in outputs:
            if os.path.exists(path):
                raise ValueError(f"output {path!r} already exists; delete it or pass --overwrite.")

    print(f"[INFO] building {config.VAL_HDF5} from {config.VAL_IMAGES}...")
    (valCount, skipped) = write_val(valPaths, valLabels, classNames, args.overwrite)

    print(f"[INFO] building the training and test splits from {config.TRAIN_IMAGES}...")
    try:
        report = build_hdf5_splits(
            trainPaths, config.HDF5_PATH, labels=trainLabels, size=config.IMAGE_SIZE,
            val_size=0, test_size=config.NUM_TEST_IMAGES,
            means_name=os.path.basename(config.DATASET_MEAN), workers=args.workers,
            overwrite=args.overwrite,
        )
    except BaseException:
        # all or nothing: no validation file without its training split
        os.remove(config.VAL_HDF5)
        raise
    # the same label encoding in every split
    assert report.class_names == classNames
    print(f"[INFO] {len(classNames)} classes")
    print(f"[INFO] train: {report.counts['train']} images -> {report.paths['train']}")
    print(f"[INFO] val: {valCount} images -> {config.VAL_HDF5}")
    print(f"[INFO] test: {report.counts['test']} images -> {report.paths['test']}")
    means = ", ".join(f"{channel}={value:.2f}" for (channel, value) in report.means.items())
    print(f"[INFO] means ({means}) -> {report.means_path}")
    if skipped:
        print(f"[INFO] skipped {len(skipped)} unreadable validation image(s):")
        for path in skipped:
            print(f"  {path}")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        run(args)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"[ERROR] {error}")


if __name__ == "__main__":
    main()
