"""Image listing and label-from-path helpers."""

import dataclasses
import os
import stat
import struct
import warnings

import cv2
import numpy as np

from pyimagesearch.infra.validation import check_int

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


# the decompression-bomb limit: Pillow's default (DecompressionBombWarning), about 9459 x 9459
MAX_IMAGE_PIXELS = 89_478_485


@dataclasses.dataclass
class ImageListing:
    """What `scan_images` found.

    Attributes:
        paths: the image files, sorted.
        left_out: path -> why it was left out (not a regular file, an
            unreadable folder, a folder named like an image).
        links: links left out (they point outside the root, or nowhere).
    """

    paths: list
    left_out: dict
    links: list


def scan_images(root, extensions=IMAGE_EXTENSIONS, follow_links=False):
    """Lists the image files under `root` and what was left out, and why.

    The rule every reader of an image folder follows: only regular files are
    images (a named pipe or a device called `x.jpg` is left out: reading it
    could block forever), a folder named like an image is not descended into,
    an unreadable folder is left out, and symbolic links, to files and to
    folders alike, are followed only when they point inside `root` (all of
    them with `follow_links`). Broken links and link loops are left out.
    Every real folder is listed once, so folder link loops end.

    Args:
        root: folder to search.
        extensions: file-name endings that count as images (case-insensitive).
        follow_links: whether to follow links that point outside `root`.

    Returns:
        An `ImageListing`.

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
    paths, links, left_out, visited = [], [], {}, set()
    folders, linked = [root], []  # real folders first, so a link never takes a real folder's place
    while folders or linked:
        folder = folders.pop() if folders else linked.pop(0)
        real = os.path.realpath(folder)
        if real in visited:
            continue
        visited.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            left_out[folder] = f"unreadable folder ({error.strerror or error})"
            continue
        for entry in entries:
            is_image = entry.name.lower().endswith(extensions) and not entry.name.startswith(".")
            try:
                kind = os.stat(entry.path).st_mode  # follows links
            except OSError:
                kind = None  # a broken link or a link loop
            is_dir = kind is not None and stat.S_ISDIR(kind)
            if not (is_dir or is_image):
                continue
            if entry.is_symlink() and (kind is None or (
                    not follow_links and not _inside(entry.path, real_root))):
                links.append(entry.path)
            elif is_dir and is_image:
                left_out[entry.path] = "a folder named like an image"
            elif is_dir:
                (linked if entry.is_symlink() else folders).append(entry.path)
            elif stat.S_ISREG(kind):
                paths.append(entry.path)
            else:
                left_out[entry.path] = "not a regular file"
    if not paths:
        raise ValueError(f"no image files ({', '.join(extensions)}) under {root!r}")
    return ImageListing(sorted(paths), dict(sorted(left_out.items())), links)


def warn_links(listing, root):
    """Warns about the links `scan_images` left out, if any."""
    if listing.links:
        warnings.warn(
            f"image listing left out {len(listing.links)} link(s) of {os.fspath(root)!r} that "
            f"point outside it or nowhere (e.g. {listing.links[0]!r}); pass follow_links=True "
            "(--follow-links) to follow those that point outside it.",
            stacklevel=3,
        )


def list_images(root, extensions=IMAGE_EXTENSIONS, follow_links=False):
    """Lists the image files under `root`, recursively, sorted.

    Follows `scan_images`' rule (regular files only; links inside `root`
    only, unless `follow_links`); what it leaves out is said in a warning.

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
    listing = scan_images(root, extensions, follow_links)
    warn_links(listing, root)
    if listing.left_out:
        path, reason = next(iter(listing.left_out.items()))
        warnings.warn(
            f"list_images left out {len(listing.left_out)} entr{'y' if len(listing.left_out) == 1 else 'ies'} "
            f"of {os.fspath(root)!r} that are not readable image files (e.g. {path!r}: {reason}).",
            stacklevel=2,
        )
    return listing.paths


def check_max_pixels(max_pixels):
    """Returns `max_pixels` if it is a positive integer or None; raises ValueError otherwise."""
    return check_int(max_pixels, "max_pixels", allow_none=True)


def read_image(path, flags=cv2.IMREAD_COLOR, max_pixels=MAX_IMAGE_PIXELS):
    """`cv2.imread` for regular files only; None for anything else or an unreadable image.

    See `read_image_checked`, which also says why an image was not read.
    """
    return read_image_checked(path, flags, max_pixels)[0]


def read_image_checked(path, flags=cv2.IMREAD_COLOR, max_pixels=MAX_IMAGE_PIXELS):
    """Decodes an image file, refusing what could hang, exhaust memory or be wrong.

    Only a regular file is opened (a named pipe called `x.jpg` would block
    forever); an image whose header declares more than `max_pixels` pixels
    (a decompression bomb) is refused before decoding; a truncated JPEG
    (which OpenCV decodes with a grey lower part) is refused.

    Args:
        path: the image file.
        flags: `cv2.imread` flags.
        max_pixels: the largest width x height accepted (None: no limit
            besides OpenCV's own).

    Returns:
        `(image, None)`, or `(None, reason)` when the file is not read.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb", opener=_nonblocking) as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None, "not a regular file"
            data = handle.read()
    except OSError as error:
        return None, f"unreadable ({error.strerror or error})"
    size = image_size(data)
    if size is not None and max_pixels is not None and size[0] * size[1] > max_pixels:
        return None, (f"{size[0]}x{size[1]} pixels, above the limit of {max_pixels} "
                      "(max_pixels, --max-pixels)")
    if data[:2] == b"\xff\xd8" and _truncated_jpeg(data):
        return None, "truncated JPEG (no end-of-image marker)"
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as error:
        return None, f"not decodable ({str(error).strip().splitlines()[-1]})"
    if image is None:
        return None, "not a decodable image"
    return image, None


def image_size(data):
    """`(width, height)` declared by a PNG, JPEG, BMP, GIF or WebP header, or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return (1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little"))
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _jpeg_size(data):
    return _jpeg_layout(data)[0]


def _jpeg_layout(data):
    """`((width, height) or None, offset of the first scan or None)` of a JPEG.

    The segments before the first scan are skipped by their lengths, so an
    EXIF thumbnail's markers are never taken for the image's.
    """
    index, size = 2, None
    while index + 4 <= len(data):
        if data[index] != 0xFF:
            return size, None
        marker = data[index + 1]
        if marker == 0xFF:
            index += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            index += 2
            continue
        if marker == 0xDA:
            return size, index
        length = int.from_bytes(data[index + 2:index + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and index + 9 <= len(data):
            height, width = struct.unpack(">HH", data[index + 5:index + 9])
            size = (width, height)
        index += 2 + length
    return size, None


def _truncated_jpeg(data):
    """Whether a JPEG's data ends before its end-of-image marker (0xFFD9 never occurs in a scan)."""
    scan = _jpeg_layout(data)[1]
    return scan is None or data.find(b"\xff\xd9", scan) < 0


def _nonblocking(path, flags):
    """Opens without blocking on a named pipe (the caller refuses what is not a regular file)."""
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


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
