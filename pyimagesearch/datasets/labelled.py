"""Labelled image lists: image paths and their class names, from a folder or given lists."""

import os

from pyimagesearch.datasets.paths import label_from_parent, label_from_prefix, scan_images, warn_links

LABEL_SOURCES = {"parent": label_from_parent, "prefix": label_from_prefix}

LAYOUTS = ("class subfolders ({root}/{class}/{image}, labels from the folder: --labels parent) "
           "or one flat folder of files named {class}.{id}.jpg (labels from the name: --labels prefix)")


def labelled_images(images, labels=None, label_from="parent", follow_links=False):
    """Resolves image paths and their string labels.

    What a folder listing leaves out is not reported here; see `scan_labelled_images`.

    Args:
        images: a folder (listed recursively) or a sequence of image paths.
        labels: one label per path; None derives them with `label_from`.
        label_from: "parent" (`{class}/{image}`) or "prefix" (`cat.11866.jpg`).
        follow_links: whether links in a folder may point outside it (see
            `list_images`).

    Returns:
        `(paths, labels)` as two lists of strings.

    Raises:
        FileNotFoundError: `images` is a path that is not a folder.
        ValueError: no images, different numbers of paths and labels, an
            unknown `label_from`, or a folder whose layout does not fit
            `label_from` (images beside the class folders for "parent", one
            label per image for "prefix").
    """
    paths, labels, _ = scan_labelled_images(images, labels, label_from, follow_links)
    return paths, labels


def scan_labelled_images(images, labels=None, label_from="parent", follow_links=False):
    """`labelled_images`, plus what the folder listing left out.

    Returns:
        `(paths, labels, left_out)`: `left_out` maps each folder or file left
        out (see `pyimagesearch.datasets.paths.scan_images`) to the reason.
    """
    if label_from not in LABEL_SOURCES:
        raise ValueError(f"label_from must be one of {sorted(LABEL_SOURCES)}, got {label_from!r}.")
    left_out = {}
    if isinstance(images, (str, os.PathLike)):
        listing = scan_images(images, follow_links=follow_links)
        warn_links(listing, images)
        paths, left_out = listing.paths, listing.left_out
    else:
        paths = [os.fspath(path) for path in images]
        if not paths:
            raise ValueError("images must hold at least one image path, got none.")
    if labels is None:
        labels = [LABEL_SOURCES[label_from](path) for path in paths]
        if isinstance(images, (str, os.PathLike)):
            _check_layout(os.fspath(images), paths, labels, label_from)
    else:
        labels = [str(label) for label in labels]
        if len(labels) != len(paths):
            raise ValueError(
                f"labels must hold one label per image: got {len(labels)} labels "
                f"for {len(paths)} images."
            )
    return paths, labels, left_out


def _check_layout(root, paths, labels, label_from):
    """Refuses a folder whose layout would label its images wrongly."""
    if label_from == "parent":
        loose = [path for path in paths if os.path.dirname(path) == root]
        if loose:
            raise ValueError(
                f"{len(loose)} image(s) lie directly in {root!r} (e.g. {os.path.basename(loose[0])!r}), "
                f"outside any class folder. The accepted layouts are {LAYOUTS}."
            )
    elif len(paths) > 1 and len(set(labels)) == len(paths):
        raise ValueError(
            f"file-name prefixes gave one label per image ({len(paths)} labels for {len(paths)} "
            f"images in {root!r}), so no class has two images. The accepted layouts are {LAYOUTS}; "
            "for class subfolders use --labels parent (label_from=\"parent\")."
        )
