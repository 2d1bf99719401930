"""Build stratified train/val/test HDF5 files and the training means from an image folder.

Images are resized aspect-aware to --size and stored as uint8 rows; labels come
from each image's parent folder (flowers17, animals, caltech-101) or from the
file-name prefix (Kaggle's cat.11866.jpg). Writes train.hdf5, val.hdf5,
test.hdf5 and the book's means JSON {"R": .., "G": .., "B": ..} to --output.
"""

import math

from pyimagesearch.commands._images import add_reading_arguments, max_pixels

HELP = "build train/val/test HDF5 files and the means JSON from an image folder"


def count_or_fraction(text):
    """A count ("2500") or a fraction ("0.1"), checked before the folder is scanned."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = float(text)
    if not (value >= 0 if isinstance(value, int) else 0 <= value < 1):
        raise argparse.ArgumentTypeError(f"expected a count (0 or more) or a fraction in [0, 1), got {text}")
    return value


def size(text):
    """"256" or "WIDTHxHEIGHT", checked (one image is one HDF5 chunk, under 4 GB) before the scan."""
    import argparse

    parts = text.lower().split("x")
    if len(parts) not in (1, 2):
        raise ValueError
    values = tuple(int(part) for part in parts)
    (width, height) = (values[0], values[-1])
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"expected positive sides, got {text}")
    if width * height * 3 >= 2**32:
        side = math.isqrt((2**32 - 1) // 3)
        raise argparse.ArgumentTypeError(
            f"{text} makes every image {width * height * 3 / 1e9:.1f} GB, and an image is one HDF5 "
            f"chunk, which must be under 4 GB: at most {side}x{side}")
    return values[0] if len(values) == 1 else values


def add_arguments(parser):
    parser.add_argument("-d", "--dataset", required=True, help="folder of input images")
    parser.add_argument("-o", "--output", required=True, help="folder for the HDF5 files and means")
    parser.add_argument("--labels", choices=("parent", "prefix"), default="parent",
                        help="label source: parent folder or file-name prefix (default: parent)")
    parser.add_argument("--size", type=size, default=256,
                        help="output size, N or WIDTHxHEIGHT (default: 256)")
    parser.add_argument("--val-size", type=count_or_fraction, default=0.1,
                        help="validation images, a count or a fraction (default: 0.1)")
    parser.add_argument("--test-size", type=count_or_fraction, default=0.1,
                        help="test images, a count or a fraction (default: 0.1)")
    parser.add_argument("--random-state", type=int, default=42, help="split seed (default: 42)")
    parser.add_argument("--workers", type=int, default=None,
                        help="decoding threads (default: one per CPU core)")
    parser.add_argument("--means", default="mean.json",
                        help="file name of the means JSON in --output (default: mean.json); "
                             "an absolute path writes it elsewhere on purpose")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing outputs (and remove split files this build does not produce)")
    add_reading_arguments(parser)


def check_paths(args):
    """Checks --dataset and --output before the heavy imports."""
    from pyimagesearch.commands._paths import check_output_folder, require_existing
    from pyimagesearch.infra.setpaths import SPLIT_FILES, means_target

    require_existing(args.dataset, "--dataset", "image folder", folder=True)
    means_target(args.output, args.means, "--means")
    outputs = (*SPLIT_FILES, args.means)
    check_output_folder(args.output, "--output", outputs, overwrite=args.overwrite)


def run(args):
    check_paths(args)
    from pyimagesearch.io.build import build_hdf5_splits

    report = build_hdf5_splits(
        args.dataset, args.output, label_from=args.labels, size=args.size,
        val_size=args.val_size, test_size=args.test_size,
        random_state=args.random_state, workers=args.workers,
        means_name=args.means, overwrite=args.overwrite, verbose=not args.quiet,
        follow_links=args.follow_links, max_pixels=max_pixels(args),
    )
    if args.quiet:  # -q hides the progress bars only
        print(report.summary())
    return 0
