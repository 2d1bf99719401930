"""HDF5DatasetWriter: buffered, compact, atomic writing of rows and labels to HDF5."""

import contextlib
import os
import re
import uuid

import h5py
import numpy as np

from pyimagesearch.io.buildid import BUILD_ID, FILE_ID, NAMES_DIGEST, names_digest
from pyimagesearch.io.readpath.checksum import CRC32_CHUNK_ROWS, CRC32_SUFFIX, ChunkCRC32
from pyimagesearch.infra.atomic import commit, new_temporary
from pyimagesearch.infra.validation import check_int

# rows per chunk are chosen so that one chunk holds about this many bytes
_CHUNK_BYTES = 1 << 20


def check_overwrite(path, argument, overwrite, remedy="overwrite=True"):
    """Refuses an existing output file unless `overwrite`.

    Args:
        path: the output file.
        argument: the parameter that gave it, for the message.
        overwrite: whether an existing file may be replaced.
        remedy: how the caller passes `overwrite`, for the message.

    Raises:
        ValueError: `path` exists and `overwrite` is False.
    """
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"{argument} {path!r} already exists; delete it or pass {remedy}.")


class HDF5DatasetWriter:
    """Writes a dataset of rows (images or features) and integer labels to HDF5.

    The file holds `dataKey` (the rows), `labels` (integers) and, once
    `storeClassLabels` is called, `label_names` (UTF-8 strings, with their
    SHA-256 in the `label_names_sha256` attribute): the book's format. Unlike the book's writer it stores rows in their own type (`uint8`
    images stay `uint8`, floating-point features become `float32`), chunks them
    for fast batch reads with a `fletcher32` checksum per chunk (a corrupted
    chunk fails on read instead of serving wrong pixels) and, for uncompressed
    rows, a CRC32 per chunk in the dataset `<dataKey>_crc32` (what the
    memory-mapped reader verifies, several times faster), stamps the file with
    a build id and a file id (its `build_id` and `file_id` attributes, which
    the readers check), and writes to a temporary file that is renamed onto
    `outputPath` only by a clean `close()`.

    Example:

    ```python
    with HDF5DatasetWriter((len(paths), 256, 256, 3), "train.hdf5") as writer:
        writer.storeClassLabels(le.classes_)
        for image, label in zip(images, labels):
            writer.add([image], [label])
    ```

    Args:
        dims: shape of the whole dataset, `(num_rows, *row_shape)`.
        outputPath: path of the HDF5 file to create.
        dataKey: name of the rows' dataset ("images", or "features").
        bufSize: rows held in memory before they are written.
        dtype: storage type of the rows; by default the type of the first rows
            added (`float64` and `float16` become `float32`).
        compression: passed to h5py (e.g. "gzip", "lzf"); None stores raw rows.
        overwrite: whether an existing `outputPath` may be replaced.
        checksum: whether to store checksums: `fletcher32` with the rows and
            labels (HDF5 verifies them on every read through h5py) and, when
            `compression` is None, a CRC32 per chunk of rows (verified by the
            memory-mapped reader the first time it reads the chunk).
        build_id: the id stamped in the file's `build_id` attribute; a new
            random id by default (files built together share one).

    Raises:
        ValueError: bad `dims`, `dataKey` or `bufSize`, or `outputPath`
            exists and `overwrite` is False.
    """

    def __init__(self, dims, outputPath, dataKey="images", bufSize=1000,
                 dtype=None, compression=None, overwrite=False, checksum=True,
                 build_id=None):
        dims = _check_dims(dims)
        if not isinstance(dataKey, str) or not dataKey or dataKey in ("labels", "label_names"):
            raise ValueError(
                f"dataKey must be a non-empty name other than 'labels' and "
                f"'label_names', got {dataKey!r}."
            )
        bufSize = check_int(bufSize, "bufSize")
        outputPath = os.fspath(outputPath)
        check_overwrite(outputPath, "outputPath", overwrite)
        self.dims = dims
        self.outputPath = outputPath
        self.dataKey = dataKey
        self.bufSize = bufSize
        self.compression = compression
        self.checksum = bool(checksum)
        self.build_id = uuid.uuid4().hex if build_id is None else str(build_id)
        self._dtype = None if dtype is None else np.dtype(dtype)
        self.idx = 0
        self._buffer = {"data": [], "labels": []}
        self._buffered = 0
        self.data = None
        self._crc = None  # the rows' ChunkCRC32, once the rows' dataset exists

        self._temporary = new_temporary(outputPath)
        try:
            # no chunk cache: a failed write (full disk) raises at once; with dirty
            # chunks cached, HDF5 crashes the process when it later fails to close
            self.db = h5py.File(self._temporary, "w", rdcc_nbytes=0)
            self.db.attrs[BUILD_ID] = self.build_id
            self.db.attrs[FILE_ID] = uuid.uuid4().hex
            self.labels = self.db.create_dataset(
                "labels", (dims[0],), dtype="int64", maxshape=(dims[0],),
                chunks=(min(dims[0], 1 << 16),), fletcher32=self.checksum,
            )
            if self._dtype is not None:
                self._create_data(self._dtype)
        except BaseException:
            self._abort()
            raise

    @property
    def closed(self):
        """Whether `close()` (or an aborted `with` block) has ended the writer."""
        return self._temporary is None

    def add(self, rows, labels):
        """Adds rows and their labels, writing to disk each time the buffer fills.

        Args:
            rows: array-like of shape `(n, *dims[1:])`.
            labels: `n` integer labels.

        Raises:
            ValueError: wrong row shape, different numbers of rows and labels,
                non-integer labels, more rows than `dims[0]`, or a closed writer.
        """
        self._check_open()
        rows = np.asarray(rows)
        labels = np.asarray(labels)
        if rows.shape[1:] != self.dims[1:] or rows.ndim != len(self.dims):
            raise ValueError(
                f"rows must have shape (n, {', '.join(map(str, self.dims[1:]))}) "
                f"to match dims={self.dims}, got {rows.shape}."
            )
        if labels.ndim != 1 or len(labels) != len(rows):
            raise ValueError(
                f"labels for {self.outputPath!r} must be a 1-D sequence with one "
                f"label per row: got {len(rows)} rows and labels of shape {labels.shape}."
            )
        if len(labels) and labels.dtype.kind not in "iu":
            raise ValueError(
                f"labels for {self.outputPath!r} must be integers, got dtype "
                f"{labels.dtype} (e.g. {labels[0]!r})."
            )
        if len(labels) and labels.dtype.kind == "u" and labels.max() > np.iinfo(np.int64).max:
            raise ValueError(
                f"labels for {self.outputPath!r} must fit in int64 (the stored type), got "
                f"{labels.max()}."
            )
        free = self.dims[0] - self.idx - self._buffered
        if len(rows) > free:
            raise ValueError(
                f"Cannot add {len(rows)} rows: only {free} more fit in dims[0]="
                f"{self.dims[0]}."
            )
        if not len(rows):
            return
        if self.data is None:
            self._create_data(_storage_dtype(rows.dtype))
        self._buffer["data"].append(rows)
        self._buffer["labels"].append(labels)
        self._buffered += len(rows)
        if self._buffered >= self.bufSize:
            self.flush()

    def flush(self):
        """Writes the buffered rows to the file.

        Raises:
            OSError: the write failed (a full disk), naming `outputPath`.
        """
        self._check_open()
        if not self._buffered:
            return
        end = self.idx + self._buffered
        rows = np.concatenate(self._buffer["data"]).astype(self.data.dtype, copy=False)
        with _system_errors(self.outputPath):
            self.data[self.idx:end] = rows
            self.labels[self.idx:end] = np.concatenate(self._buffer["labels"])
        if self._crc is not None:
            self._crc.update(rows)
        self.idx = end
        self._buffer = {"data": [], "labels": []}
        self._buffered = 0

    def storeClassLabels(self, classLabels):
        """Stores the class names as the `label_names` dataset (UTF-8 strings).

        Args:
            classLabels: the class names, indexed by label.

        Raises:
            ValueError: a closed writer.
        """
        self._check_open()
        names = [str(name) for name in classLabels]
        if "label_names" in self.db:
            del self.db["label_names"]
        self.db.create_dataset(
            "label_names", (len(names),), dtype=h5py.string_dtype("utf-8"), data=names
        )
        self.db.attrs[NAMES_DIGEST] = names_digest(names)  # checked by the readers

    def close(self, publish=True):
        """Writes what is buffered, trims unused rows and moves the file into place.

        Closing with fewer rows than `dims[0]` shrinks the datasets to the rows
        written. Closing twice does nothing.

        Args:
            publish: False leaves the finished file at its temporary path, for
                a caller that publishes several files together
                (`pyimagesearch.infra.publish.publish_set`).

        Returns:
            The finished file's path (`outputPath`, or the temporary path when
            `publish` is False); None if the writer was already closed.

        Raises:
            OSError: writing the file failed (a full disk), naming `outputPath`;
                the temporary file is removed and `outputPath` left as it was.
        """
        if self.closed:
            return None
        try:
            self.flush()
            if self.data is None:
                self._create_data(np.dtype("float32"))
            if self.idx < self.dims[0]:
                self.data.resize(self.idx, axis=0)
                self.labels.resize(self.idx, axis=0)
            if self._crc is not None and self.idx:
                crcs = self.db.create_dataset(self.dataKey + CRC32_SUFFIX, data=self._crc.values(),
                                              fletcher32=True)
                crcs.attrs[CRC32_CHUNK_ROWS] = self._crc.chunk_rows
            with _system_errors(self.outputPath):
                self.db.close()
        except BaseException:
            self._abort()
            raise
        temporary, self._temporary = self._temporary, None
        if not publish:
            return temporary
        try:
            commit(temporary, self.outputPath)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)
        return self.outputPath

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_type is None:
            self.close()
        else:
            self._abort()
        return False

    def __repr__(self):
        state = "closed" if self.closed else f"{self.idx + self._buffered} rows"
        return f"HDF5DatasetWriter({self.outputPath!r}, dims={self.dims}, {state})"

    def _create_data(self, dtype):
        self.data = self.db.create_dataset(
            self.dataKey, self.dims, dtype=dtype, maxshape=self.dims,
            chunks=_chunks(self.dims, dtype), compression=self.compression,
            fletcher32=self.checksum,
        )
        if self.checksum and self.compression is None:
            self._crc = ChunkCRC32(self.data.chunks[0])

    def _abort(self):
        """Closes the file and removes the temporary file; `outputPath` is untouched."""
        if self.closed:
            return
        db = getattr(self, "db", None)
        if db is not None and db.id.valid:
            # the file is discarded: a failure to close it (a full disk) must not hide the error
            with contextlib.suppress(Exception):
                db.close()
        temporary, self._temporary = self._temporary, None
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)

    def _check_open(self):
        if self.closed:
            raise ValueError(f"The writer for {self.outputPath!r} is closed.")


@contextlib.contextmanager
def _system_errors(path):
    """Re-raises h5py's report of a failed system call as an `OSError` naming `path`.

    h5py reports a failed write (`errno = 28`, a full disk) as an `OSError` or a
    `RuntimeError` without a file name; other errors pass unchanged.
    """
    try:
        yield
    except (OSError, RuntimeError) as error:
        found = re.search(r"errno = (\d+)", str(error))
        if found is None or getattr(error, "filename", None) is not None:
            raise
        code = int(found.group(1))
        raise OSError(code, os.strerror(code), path) from error


def _check_dims(dims):
    try:
        dims = tuple(int(d) for d in dims)
    except (TypeError, ValueError):
        raise ValueError(f"dims must be a tuple of positive integers, got {dims!r}.") from None
    if not dims or min(dims) < 1:
        raise ValueError(f"dims must be a tuple of positive integers, got {dims!r}.")
    return dims


def _storage_dtype(dtype):
    if np.issubdtype(dtype, np.floating):
        return np.dtype("float32")
    if dtype.kind not in "biu":
        raise ValueError(f"rows must be numbers, got dtype {dtype}.")
    return dtype


def _chunks(dims, dtype):
    row_bytes = int(np.prod(dims[1:], dtype=np.int64)) * np.dtype(dtype).itemsize
    rows = max(1, min(dims[0], _CHUNK_BYTES // max(row_bytes, 1)))
    return (rows, *dims[1:])
