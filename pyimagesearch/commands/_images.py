"""Options shared by the commands that read an image folder (build_dataset, extract_features).

Only the standard library is imported at module level: the commands build their
parsers before any heavy import.
"""


def add_reading_arguments(parser, progress="progress bars"):
    """Adds --follow-links, --max-pixels and -q/--quiet to `parser`.

    Args:
        parser: the command's `argparse.ArgumentParser`.
        progress: what -q hides, for its help ("progress bar").
    """
    parser.add_argument("--follow-links", action="store_true",
                        help="follow symbolic links that point outside --dataset (default: leave them out)")
    parser.add_argument("--max-pixels", type=int, default=None,
                        help="skip images whose header declares more pixels (width x height), before "
                        "decoding them (default: 89478485, Pillow's decompression-bomb limit)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help=f"hide the {progress} (the summary and skipped images are still shown)")


def max_pixels(args):
    """--max-pixels, or the library's default limit."""
    from pyimagesearch.datasets.paths import MAX_IMAGE_PIXELS

    return MAX_IMAGE_PIXELS if args.max_pixels is None else args.max_pixels
