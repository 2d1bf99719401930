"""Tiny ImageNet's metadata files: wnids.txt, words.txt, val/val_annotations.txt."""

import os

_NOT_FOUND = "{path!r} not found: expected the extracted tiny-imagenet-200 folder's file."


def read_wnids(path):
    """Reads the WordNet ids of `wnids.txt`, one a line.

    Args:
        path: path of `wnids.txt`.

    Returns:
        The list of WordNet ids, in file order.

    Raises:
        FileNotFoundError: `path` does not exist.
    """
    _check_file(path)
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def read_val_annotations(path, images):
    """Reads the validation images and their WordNet ids from `val_annotations.txt`.

    Args:
        path: path of `val/val_annotations.txt` (tab-separated: image, wnid, box).
        images: folder of the validation images (`val/images`).

    Returns:
        `(paths, wnids)`: two lists, in file order.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: a line has fewer than two fields, or the file lists no image.
    """
    _check_file(path)
    (paths, wnids) = ([], [])
    with open(path, encoding="utf-8") as handle:
        for (number, line) in enumerate(handle, 1):
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


def readable_names(wnids, path):
    """Each WordNet id's first name in `words.txt` ("goldfish, Carassius auratus" -> goldfish).

    A name shared by several classes gets its WordNet id appended; an id that
    `words.txt` lacks, or every id when the file is missing, keeps the id.

    Args:
        wnids: the WordNet ids to name.
        path: path of `words.txt`.

    Returns:
        One display name per WordNet id.
    """
    words = {}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                (wnid, _, names) = line.rstrip("\n").partition("\t")
                words[wnid] = names.split(",")[0].strip()
    names = [words.get(wnid) or wnid for wnid in wnids]
    return [f"{name} ({wnid})" if names.count(name) > 1 else name for (name, wnid) in zip(names, wnids)]


def _check_file(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(_NOT_FOUND.format(path=os.fspath(path)))
