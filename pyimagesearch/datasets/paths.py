"""Image listing and label-from-path helpers."""

import os
import stat
import warnings

import cv2

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def list_images(root, extensions=IMAGE_EXTENSIONS, follow_links=False):
    """Lists the image files under `root`, recursively, sorted.

    Only regular files are listed: a named pipe or a device called `x.jpg`
    is not (reading it could block forever). Symbolic links, to files and to
    folders alike, are followed only when they point inside `root`, unless
    `follow_links` is True; the links left out are counted in a warning.
    Every real folder is listed once, so link loops end.

    Args:
        root: folder to search.
        extensions: file-name endings that count as images (case-insensitive).
        follow_links: whether to follow links that point outside `root`.

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
    real_root = os.path.realpath(root)
    paths, outside, visited = [], [], set()
    folders, linked = [root], []  # real folders first, so a link never takes a real folder's place
    while folders or linked:
        folder = folders.pop() if folders else linked.pop(0)
        real = os.path.realpath(folder)
        if real in visited:
            continue
        visited.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            is_image = entry.name.lower().endswith(extensions) and not entry.name.startswith(".")
            is_dir = entry.is_dir()
            if not (is_dir or is_image):
                continue
            if entry.is_symlink() and not follow_links and not _inside(entry.path, real_root):
                outside.append(entry.path)
            elif is_dir:
                (linked if entry.is_symlink() else folders).append(entry.path)
            elif entry.is_file():
                paths.append(entry.path)
    if outside:
        warnings.warn(
            f"list_images left out {len(outside)} link(s) that point outside {root!r} "
            f"(e.g. {outside[0]!r}); pass follow_links=True (--follow-links) to follow them.",
            stacklevel=2,
        )
    if not paths:
        raise ValueError(f"no image files ({', '.join(extensions)}) under {root!r}")
    return sorted(paths)


def read_image(path, flags=cv2.IMREAD_COLOR):
    """`cv2.imread` for regular files only; None for anything else or an unreadable image.

    A named pipe called `x.jpg` would block `cv2.imread` forever.
    """
    path = os.fspath(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
    except OSError:
        return None
    return cv2.imread(path, flags)


def _inside(path, real_root):
    target = os.path.realpath(path)
    return os.path.commonpath([target, real_root]) == real_root


def label_from_parent(path):
    """Returns the name of the folder holding `path` (`{dataset}/{class}/{image}`)."""
    return os.path.basename(os.path.dirname(os.fspath(path)))


def label_from_prefix(path, separator="."):
    """Returns the file-name prefix before `separator` (Kaggle's `cat.11866.jpg` -> "cat")."""
    name = os.path.basename(os.fspath(path))
    if separator not in name:
        raise ValueError(f"file name {name!r} has no {separator!r} to take a label prefix from")
    return name.split(separator, 1)[0]
