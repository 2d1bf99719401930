"""Atomic file output: write beside the target, rename into place on success."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_output(path, suffix=None):
    """Yields a temporary path in `path`'s folder; renames it to `path` on success.

    If the body raises, the temporary file is removed and `path` is left as it
    was, so readers never see a half-written file.

    Args:
        path: the final file path.
        suffix: suffix of the temporary file (defaults to `path`'s extension,
            which some writers, such as `keras.Model.save`, require).

    Yields:
        The temporary path to write to.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    handle, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=f".tmp{suffix}", dir=folder
    )
    os.close(handle)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
