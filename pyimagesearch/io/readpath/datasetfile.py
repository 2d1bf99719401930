"""DatasetFile: one HDF5 data set opened for reading, and nothing else.

What `HDF5DatasetGenerator` reads through. Opening it reads the labels,
checks the class names, the siblings' build and the publish state, and picks
the read path; it writes nothing, takes no lock, removes nothing and starts
nothing. Each read checks that the file is still the one opened (its size,
modification time and inode, one `os.stat`, about a microsecond): a file
changed in place, truncated or replaced under an open reader fails the read
with one line naming it.
"""

import copy
import os
import sys
import time

import h5py

from pyimagesearch.infra.publish import refuse_unfinished_publish
from pyimagesearch.io.buildid import FILE_ID, check_metadata, metadata_errors
from pyimagesearch.infra.batchmemory import BatchMemory
from pyimagesearch.io.readpath.chunkreader import ChunkReader, layout_problem
from pyimagesearch.infra.validation import check_choice, check_int


class FileChangedError(OSError):
    """The file was changed in place, truncated or removed under an open reader."""


class DatasetFile:
    """An HDF5 file of rows and labels, read without writing anything.

    The file is opened lazily in each process that reads rows (and reopened
    after a fork or `close()`); every (re)open checks that it is still the
    file whose labels were read (its `file_id`, or for files without one its
    identity on disk), and every read checks that it has not changed since.

    Args:
        path: path of the HDF5 file.
        data_key: the rows' dataset ("images", or "features").
        classes: number of classes; every label must lie in `[0, classes)`.
        read_path: "auto" (positional reads when the layout allows, else
            h5py), "mmap" (positional reads of the chunks, or an error saying
            why not; the name of the library's first direct reader, a memory
            map) or "h5py".
        keep: idle batch buffers kept for reuse (see `BatchMemory`).

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: a dataset missing from the file, labels that are not 1-D
            integers in `[0, classes)`, sibling files of another build, an
            unfinished publish in the file's folder, a bad `read_path`.
        OSError: the file is not HDF5 or its labels fail their checksum.
    """

    def __init__(self, path, data_key="images", classes=2, read_path="auto", keep=0):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"dbPath {self.path!r} does not exist.")
        self.classes = check_int(classes, "classes")
        check_choice(read_path, "read_path", ("auto", "mmap", "h5py"))
        refuse_unfinished_publish(os.path.dirname(os.path.abspath(self.path)))
        (self.data_key, self.keep) = (data_key, keep)
        (self._db, self._pid, self._reader) = (None, None, None)
        with _open(self.path) as db, metadata_errors(self.path):
            self._stat = _snapshot(self.path)
            self._source = self._identity(db)
            check_metadata(self.path, db)
            self.labels = _labels(self.path, db, data_key, self.classes)
            self.shape = db[data_key].shape
            self.read_path, self.read_path_reason = _choose_read_path(db[data_key], read_path, self.path)
        self.direct = self.read_path != "h5py"

    @property
    def db(self):
        """The open `h5py.File`, opened on first use in the current process.

        Raises:
            ValueError: the file is no longer the one whose labels were read.
            FileChangedError: it was changed in place, truncated or removed.
        """
        if self._db is None or self._pid != os.getpid() or not self._db.id.valid:
            self.check_unchanged()
            db = _open(self.path)
            if self._identity(db) != self._source:
                db.close()
                raise ValueError(_replaced(self.path))
            (self._db, self._pid, self._reader) = (db, os.getpid(), None)
        return self._db

    def read(self, start, stop, window=None):
        """Returns rows `[start, stop)`, checked against a change of the file.

        Args:
            start: first row.
            stop: row after the last.
            window: optional `(ys, xs, height, width)` patch of each row (only
                when `direct`), see `ChunkReader.read`.

        Raises:
            FileChangedError: the file was changed in place, truncated or removed since it was opened.
            ValueError: the file was replaced since it was opened.
            OSError: a chunk fails its checksum or the file cannot be read.
        """
        db = self.db
        (rows, failure) = (None, None)
        try:
            if not self.direct:
                rows = db[self.data_key][start:stop]
            else:
                if self._reader is None:  # this process's reader of this process's handle
                    self._reader = ChunkReader(db[self.data_key], BatchMemory(keep=self.keep))
                rows = self._reader.read(start, stop, window)
        except OSError as error:
            failure = error
        self.check_unchanged()  # first: a short read of a truncated file is a changed file
        if failure is not None:
            raise _read_error(self.path, self.data_key, failure)
        return rows

    def check_unchanged(self):
        """Checks the file's size, modification time and inode against those it was opened with.

        Raises:
            FileChangedError: the file was changed in place, truncated or removed.
            ValueError: the file was replaced (another file is at its path).
        """
        try:
            now = _snapshot(self.path)
        except FileNotFoundError:
            raise FileChangedError(f"{self.path!r} was removed while it was read; restore or "
                                   "rebuild it, then create a new HDF5DatasetGenerator.") from None
        if now == self._stat:
            return
        if now[:2] != self._stat[:2]:
            raise ValueError(_replaced(self.path))
        how = (f"shrank from {self._stat[2]} to {now[2]} bytes" if now[2] < self._stat[2] else
               f"was changed in place ({self._stat[2]} -> {now[2]} bytes, modified at {now[3]} ns)")
        raise FileChangedError(
            f"{self.path!r} {how} while it was read: its rows no longer match the labels read at "
            "the start; stop whatever writes it, then create a new HDF5DatasetGenerator.")

    def close(self):
        """Closes the file in this process (it reopens on next use)."""
        if self._db is not None and self._pid == os.getpid() and self._db.id.valid:
            self._db.close()
        (self._db, self._reader) = (None, None)

    def detached(self):
        """Returns a copy of this file's state that opens its own handle on first use."""
        twin = copy.copy(self)
        (twin._db, twin._pid, twin._reader) = (None, None, None)
        return twin

    def __getstate__(self):
        return dict(self.__dict__, _db=None, _pid=None, _reader=None)

    def _identity(self, db):
        """The file's id, or its identity on disk for files without one."""
        file_id = db.attrs.get(FILE_ID)
        if file_id is not None:
            return ("file_id", str(file_id))
        return ("file",) + _snapshot(self.path)


def _snapshot(path):
    stat = os.stat(path)
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _replaced(path):
    return (f"{path!r} was replaced after this generator read its labels (another build or "
            "file is there now); create a new HDF5DatasetGenerator to read the new file.")


def _labels(path, db, key, classes):
    """The file's labels, checked: 1-D integers in `[0, classes)`, one per row of `key`."""
    for name in (key, "labels"):
        if name not in db:
            raise ValueError(f"{path!r} has no dataset {name!r} (dataKey={key!r}); "
                             f"it holds {sorted(db.keys())}.")
    if len(db[key]) != len(db["labels"]):
        raise ValueError(f"{path!r} holds {len(db[key])} rows in {key!r} but {len(db['labels'])} labels.")
    labels = db["labels"]
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"{path!r} holds labels of dtype {labels.dtype} and shape {labels.shape}; "
                         "expected 1-D integers (one class index per row).")
    try:
        labels = labels[:]
    except OSError as error:
        raise _read_error(path, "labels", error) from None
    bad = (labels < 0) | (labels >= classes)
    if bad.any():
        raise ValueError(f"{path!r} holds label {labels[bad][0]} outside [0, classes) with classes={classes}.")
    return labels


LOCK_WAIT = 10.0  # seconds a reader waits for a writer's HDF5 file lock to go


def _open(path):
    """`h5py.File(path, "r")`, waiting up to `LOCK_WAIT` s for a lock another process holds."""
    began = time.monotonic()
    said = False
    while True:
        try:
            return h5py.File(path, "r")
        except BlockingIOError as error:  # HDF5's lock: a writer, or a process ending with it
            waited = time.monotonic() - began
            if waited > LOCK_WAIT:
                raise BlockingIOError(
                    f"cannot open {path!r}: another process has held it locked (open for writing) "
                    f"for {waited:.0f} s ({error}); wait for it to end, or set "
                    "HDF5_USE_FILE_LOCKING=FALSE to read anyway.") from None
            if not said and waited > 2:
                print(f"[INFO] waiting for another process's lock on {path!r} (HDF5 file locking)",
                      file=sys.stderr, flush=True)
                said = True
            time.sleep(0.1)
        except OSError as error:
            raise type(error)(f"cannot open {path!r} as an HDF5 file: {error}") from None


def _read_error(path, name, error):
    return OSError(
        f"{path!r}: reading {name!r} failed ({error}); the file is corrupted "
        f"(a checksum does not match) or unreadable: rebuild it."
    )


def _choose_read_path(dataset, requested, path):
    """("mmap" or "h5py", the repr's note: the chunks' checksum, or why h5py) for `read_path=requested`."""
    if requested == "h5py":
        return "h5py", " (requested)"
    problem = layout_problem(dataset)
    if problem is None:
        try:
            checksum = ChunkReader(dataset).checksum
        except ValueError as error:
            problem = str(error)
    if problem is None:
        return "mmap", f" (chunks verified by {checksum})" if checksum else " (no checksums)"
    if requested == "mmap":
        raise ValueError(f"read_path='mmap' cannot read {path!r}: {problem}.")
    return "h5py", f" ({problem})"

