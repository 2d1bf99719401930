"""Path checks the commands run first, before any heavy import, so a mistake is answered at once.

Only `os` and `tempfile` are used here: scikit-learn, OpenCV, h5py and Keras
take seconds to import, a missing folder should not.
"""

import os
import tempfile


def require_existing(path, argument, what, *, folder):
    """Checks that `path` is an existing folder (`folder=True`) or file.

    Args:
        path: the folder or file.
        argument: the option that gave it, for the message.
        what: what it holds, for the message ("image folder", "features file").
        folder: whether a folder (True) or a file (False) is expected.

    Raises:
        ValueError: it is missing or of the other kind, naming `argument`.
    """
    if not os.path.exists(path):
        raise ValueError(f"{argument} {path!r}: {what} not found.")
    if os.path.isdir(path) != folder:
        found, expected = ("a file", "a folder") if folder else ("a folder", "a file")
        raise ValueError(f"{argument}: {what} {path!r} is {found}, not {expected}.")


def check_output_file(path, argument, overwrite=True):
    """Checks that the file `path` can be written.

    Args:
        path: the file to write.
        argument: the option that gave it, for the message.
        overwrite: whether an existing file may be replaced.

    Raises:
        ValueError: `path` is a folder, exists without `overwrite`, or its
            folder cannot be created or written.
    """
    if os.path.isdir(path):
        raise ValueError(f"{argument} {path!r} is a folder; give a file path.")
    if os.path.lexists(path) and not overwrite:
        raise ValueError(f"{argument} {path!r} already exists; delete it or pass --overwrite.")
    _check_writable(os.path.dirname(os.path.abspath(path)), argument, path)


def check_output_folder(path, argument, outputs=(), overwrite=True):
    """Checks that files can be written into the folder `path` (made if missing).

    Args:
        path: the output folder.
        argument: the option that gave it, for the message.
        outputs: names (relative to `path`) of the files to write.
        overwrite: whether existing `outputs` may be replaced.

    Raises:
        ValueError: `path` is a file, one of `outputs` exists without
            `overwrite`, or the folder cannot be created or written.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{argument} {path!r} is a file; a folder is expected.")
    if not overwrite:
        for name in outputs:
            target = os.path.join(path, name)
            if os.path.lexists(target):
                raise ValueError(f"{argument}: {target!r} already exists; delete it or pass --overwrite.")
    _check_writable(os.path.abspath(path), argument, path)


def _check_writable(folder, argument, path):
    """Checks that `folder`, or the nearest folder above it that exists, takes a new file."""
    existing = folder
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        raise ValueError(f"{argument} {path!r}: {existing!r} is a file, so no folder can be made there.")
    try:  # os.access says yes to root on a read-only mount: try it
        handle, probe = tempfile.mkstemp(prefix=".pyimagesearch-write-check.", dir=existing)
    except OSError as error:
        raise ValueError(f"{argument} {path!r}: cannot write in {existing!r} "
                         f"({error.strerror or error}); choose a writable location.") from None
    os.close(handle)
    os.remove(probe)
