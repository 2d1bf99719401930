"""Build ids: every file of one build carries the same id, so readers never mix builds.

`HDF5DatasetWriter` stamps each HDF5 file with a `build_id` attribute (and
a `file_id` of its own, which `HDF5DatasetGenerator` checks on every open);
`build_hdf5_splits` gives one id to all its files (the means JSON holds it as
its `"build_id"` key) and records the set in each HDF5 file's `build_set`
attribute, so that a reader of one file can check its siblings. The class
names carry a SHA-256 of their own (the `label_names_sha256` attribute:
HDF5's checksums cannot cover variable-length strings).
"""

import contextlib
import hashlib
import json
import os

import h5py

from pyimagesearch.infra.publish import refuse_unfinished_publish

BUILD_ID = "build_id"
BUILD_SET = "build_set"
FILE_ID = "file_id"  # one per file written, even within a build
NAMES_DIGEST = "label_names_sha256"


def names_digest(names):
    """The SHA-256 (hex) of a list of class names, as stored in `label_names_sha256`."""
    return hashlib.sha256(json.dumps([str(name) for name in names]).encode()).hexdigest()


@contextlib.contextmanager
def metadata_errors(path):
    """Re-raises what h5py raises on damaged metadata as an `OSError` naming `path`.

    A flipped byte in an HDF5 file's metadata surfaces as a `KeyError`,
    `RuntimeError`, `TypeError`, `UnicodeDecodeError` or an `OSError` without
    the file's name; errors that name it, and `ValueError`s, pass unchanged.
    """
    path = os.fspath(path)
    try:
        yield
    except (KeyError, RuntimeError, TypeError, UnicodeDecodeError, OSError) as error:
        if isinstance(error, OSError) and path in str(error):
            raise
        raise OSError(
            f"{path!r}: its metadata is damaged ({type(error).__name__}: {error}); "
            "rebuild the file.") from None


def check_metadata(path, db):
    """Checks an open HDF5 file's class names (their digest) and its siblings' build.

    Args:
        path: the path of `db`.
        db: an open `h5py.File`.

    Raises:
        ValueError: the class names do not match their digest, or a sibling
            has another build id.
        OSError: the metadata is too damaged to read.
    """
    with metadata_errors(path):
        check_label_names(path, db)
        check_siblings(path, db)


def check_label_names(path, db):
    """Checks `label_names` against its `label_names_sha256` digest, when the file has one.

    Raises:
        ValueError: a name was changed (a flipped byte would rename a class).
    """
    digest = _text(db.attrs.get(NAMES_DIGEST))
    if digest is None or "label_names" not in db:
        return
    names = db["label_names"].asstr()[:].tolist()
    if names_digest(names) != digest:
        raise ValueError(
            f"{os.fspath(path)!r}: its class names {names[:5]}{' ...' if len(names) > 5 else ''} "
            "do not match their checksum (label_names_sha256): the file is corrupted; rebuild it.")


def read_build_id(path):
    """Returns the build id of an HDF5 file or a means JSON, or None if it has none.

    Args:
        path: an HDF5 file or a JSON file.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `path` is neither HDF5 nor a JSON object.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path!r} is not a file.")
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as db, metadata_errors(path):
            return _text(db.attrs.get(BUILD_ID))
    try:
        with open(path) as handle:
            content = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path!r} is neither an HDF5 file nor a JSON file ({error}).") from None
    if not isinstance(content, dict):
        raise ValueError(f"{path!r} holds JSON {type(content).__name__}, expected an object.")
    return _text(content.get(BUILD_ID))


def check_same_build(paths):
    """Checks that files come from one build (the same build id).

    Reads only: a folder whose publish a killed build left unfinished is
    refused, naming the command that completes it
    (`pyimagesearch.infra.publish.refuse_unfinished_publish`).

    Args:
        paths: HDF5 files and means JSON files (e.g. train, val, test, means).

    Returns:
        The common build id (None when no file has one).

    Raises:
        ValueError: two files have different build ids, or only some have one.
        pyimagesearch.infra.publish.UnfinishedPublishError: a folder holds an
            unfinished publish.
    """
    paths = [os.fspath(path) for path in paths]
    for folder in {os.path.dirname(os.path.abspath(path)) for path in paths}:
        refuse_unfinished_publish(folder)
    ids = {path: read_build_id(path) for path in paths}
    if len(set(ids.values())) > 1:
        found = ", ".join(f"{path!r} ({build or 'no build id'})" for path, build in ids.items())
        raise ValueError(
            f"these files come from different builds: {found}; rebuild them together "
            f"(pyimagesearch build-dataset --overwrite)."
        )
    return next(iter(ids.values()), None)


def check_siblings(path, db):
    """Checks that the files built with the open HDF5 file `db` are still of its build.

    Siblings that no longer exist are ignored; a sibling of another build is
    an error.

    Args:
        path: the path of `db`.
        db: an open `h5py.File`.

    Raises:
        ValueError: a sibling has another build id.
    """
    siblings = _text(db.attrs.get(BUILD_SET))
    if siblings is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    here = os.path.abspath(path)
    others = [os.path.normpath(os.path.join(folder, name)) for name in json.loads(siblings).values()]
    others = [other for other in others if other != here and os.path.isfile(other)]
    if others:
        check_same_build([path, *others])


def _text(value):
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
