"""Image listing and label-from-path helpers."""

import os

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def list_images(root, extensions=IMAGE_EXTENSIONS):
    """Lists the image files under `root`, recursively, sorted.

    Args:
        root: folder to search.
        extensions: file-name endings that count as images (case-insensitive).

    Returns:
        A sorted list of file paths.

    Raises:
        FileNotFoundError: `root` is not a folder.
        ValueError: `root` holds no image file.
    """
    root = os.fspath(root)
    if os.path.exists(root) and not os.path.isdir(root):
        raise FileNotFoundError(
            f"image folder {root!r} is a file, not a folder: give the folder that holds the images")
    if not os.path.isdir(root):
        raise FileNotFoundError(f"image folder not found: {root!r}")
    extensions = tuple(extension.lower() for extension in extensions)
    paths = [
        os.path.join(folder, name)
        for folder, _, names in os.walk(root)
        for name in names
        if name.lower().endswith(extensions) and not name.startswith(".")
    ]
    if not paths:
        raise ValueError(f"no image files ({', '.join(extensions)}) under {root!r}")
    return sorted(paths)


def label_from_parent(path):
    """Returns the name of the folder holding `path` (`{dataset}/{class}/{image}`)."""
    return os.path.basename(os.path.dirname(os.fspath(path)))


def label_from_prefix(path, separator="."):
    """Returns the file-name prefix before `separator` (Kaggle's `cat.11866.jpg` -> "cat")."""
    name = os.path.basename(os.fspath(path))
    if separator not in name:
        raise ValueError(f"file name {name!r} has no {separator!r} to take a label prefix from")
    return name.split(separator, 1)[0]
