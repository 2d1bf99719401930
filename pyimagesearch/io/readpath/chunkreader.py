"""Rows of the library's own HDF5 files read with positional reads, without h5py's lock.

h5py takes one global lock for every call, and HDF5 verifies `fletcher32`
inside that lock, so threads cannot read an HDF5 file in parallel. The files
`HDF5DatasetWriter` writes (uint8 rows, chunked along the rows only, not
compressed, each chunk optionally followed by its `fletcher32` checksum) have
a layout simple enough to read directly: h5py lists the chunks' file offsets
once, and `ChunkReader.read` reads rows with `preadv` straight into the batch
(the GIL released, one copy from the page cache). A file that shrinks under
the reader gives a short read, which ends the batch with an error: never the
SIGBUS a memory map raises when a page past the file's new end is touched
(`benchmarks/bench_readpath.py` measures both). The first time this reader
serves a chunk it reads the whole chunk once and verifies its CRC32 stored
by the writer (`<dataKey>_crc32`), or, in files without one, HDF5's own
`fletcher32` recomputed with NumPy; both run without the GIL. Any other
layout is left to h5py (`layout_problem` says why).
"""

import ctypes
import os
import threading

import cv2
import h5py
import numpy as np

from pyimagesearch.io.readpath.checksum import CRC32_CHUNK_ROWS, CRC32_SUFFIX, crc32, fletcher32_matches

_FLETCHER32 = h5py.h5z.FILTER_FLETCHER32


def _libc_preadv():
    """libc's `preadv(fd, iov, count, offset)` through ctypes (which releases the GIL), or None."""
    try:
        function = ctypes.CDLL(None, use_errno=True).preadv  # the C library this Python runs on
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int64)
    function.restype = ctypes.c_ssize_t
    return function


_PREADV = _libc_preadv()
_IOV_MAX = 1024  # POSIX's minimum for IOV_MAX is 16; Linux and macOS allow 1024

def layout_problem(dataset):
    """Why `dataset` cannot be read by `ChunkReader`, or None when it can.

    Args:
        dataset: an `h5py.Dataset`.

    Returns:
        None, or a short reason ("compressed (gzip)", "dtype float32", ...).
    """
    if _PREADV is None:
        return "no preadv on this platform"
    if dataset.file.driver != "sec2":
        return f"file driver {dataset.file.driver!r}"
    if dataset.dtype != np.uint8:
        return f"dtype {dataset.dtype}"
    if dataset.chunks is None:
        return "not chunked"
    if tuple(dataset.chunks[1:]) != tuple(dataset.shape[1:]):
        return f"chunks {dataset.chunks} split rows"
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    others = [f for f in filters if f != _FLETCHER32]
    if others:
        return f"compressed ({dataset.compression or others})"
    if dataset.external:
        return "external storage"
    return None


class ChunkReader:
    """Reads rows of one uint8, row-chunked, uncompressed dataset with positional reads.

    Built from a dataset open in this process; it reads through h5py's own
    file descriptor, so it reads exactly the file whose identity the caller
    checked. A reader belongs to the process that built it: build a new one
    after a fork.

    Args:
        dataset: an `h5py.Dataset` with no `layout_problem`.
        memory: optional `BatchMemory` the arrays `read` returns are made
            in (buffers reused once nothing views them); new arrays when
            None.

    Attributes:
        checksum: what each chunk is verified by, the first time this reader
            serves it: "crc32" (the writer's per-chunk CRC32), "fletcher32"
            (HDF5's own, for files without CRCs) or None (no checksums).

    Raises:
        ValueError: the dataset's layout is not one this reader understands,
            a chunk is missing or not where its size says, or its CRC32s do
            not describe its chunks.
    """

    def __init__(self, dataset, memory=None):
        problem = layout_problem(dataset)
        if problem is not None:
            raise ValueError(f"{dataset.name!r} cannot be read by positional reads: {problem}.")
        plist = dataset.id.get_create_plist()
        fletcher32 = any(plist.get_filter(i)[0] == _FLETCHER32 for i in range(plist.get_nfilters()))
        self.shape = dataset.shape
        self.chunk_rows = dataset.chunks[0]
        self.row_bytes = int(np.prod(dataset.shape[1:], dtype=np.int64))
        self._data_bytes = self.chunk_rows * self.row_bytes
        self._stored_bytes = self._data_bytes + (4 if fletcher32 else 0)
        count = -(-self.shape[0] // self.chunk_rows)
        self.offsets = _chunk_offsets(dataset, count, self._stored_bytes)
        self._crcs = _stored_crcs(dataset, count, self.chunk_rows)
        self.checksum = "crc32" if self._crcs is not None else ("fletcher32" if fletcher32 else None)
        self._fd = dataset.file.id.get_vfd_handle()
        self._end = int(self.offsets.max()) + self._stored_bytes if count else 0
        if self._end > os.fstat(self._fd).st_size:
            raise ValueError(f"{dataset.name!r}: a chunk lies past the end of the file.")
        # chunks whose checksum this reader has verified (see docs/reliability.md)
        self.verified = np.zeros(count, bool)
        self._empty = np.empty if memory is None else memory.empty
        self._scratch = threading.local()  # each thread's buffer for a chunk being verified
        self._discard = np.empty(max(self.row_bytes, 1), np.uint8)  # bytes between patch lines
        self._pid = os.getpid()

    def read(self, start, stop, window=None):
        """Returns rows `[start, stop)` as a new array, read once from the file.

        Args:
            start: first row.
            stop: row after the last.
            window: optional `(ys, xs, height, width)`: row `start + k` is
                cropped to `[ys[k]:ys[k] + height, xs[k]:xs[k] + width]` as it
                is read (rows of shape `(H, W[, C])`), so a random patch
                costs one copy, not two.

        Raises:
            OSError: a chunk fails its checksum, or the file shrank under the reader.
            RuntimeError: called in a process forked after this reader was built.
        """
        if os.getpid() != self._pid:
            raise RuntimeError("a ChunkReader belongs to the process that built it; build one after a fork.")
        row_shape = tuple(self.shape[1:])
        if window is not None and len(row_shape) < 2:
            raise ValueError(f"a window needs rows of shape (H, W[, C]), got {row_shape}.")
        if window is None:
            out = self._empty((stop - start,) + row_shape, np.uint8)
        else:
            (ys, xs, height, width) = window
            (ys, xs) = (np.asarray(ys).tolist(), np.asarray(xs).tolist())  # Python ints index faster
            out = self._empty((stop - start, height, width) + row_shape[2:], np.uint8)
        row = start
        while row < stop:
            chunk, first = divmod(row, self.chunk_rows)
            last = min(stop - row, self.chunk_rows - first) + first
            done = row - start
            if self.checksum is not None and not self.verified[chunk]:
                self._copy_verified(chunk, first, last, out[done:done + last - first],
                                    None if window is None else (ys[done:], xs[done:], height, width))
            elif window is None:
                self._read_rows(chunk, first, last, out[done:done + last - first])
            else:
                self._read_patches(chunk, first, last, out[done:done + last - first], ys[done:], xs[done:])
            row += last - first
        return out

    def _copy_verified(self, chunk, first, last, out, window):
        """Reads chunk `chunk` whole, verifies it and copies rows `[first, last)` (or their patches) to `out`."""
        rows = self._chunk(chunk).reshape((self.chunk_rows,) + tuple(self.shape[1:]))
        if window is None:
            pieces = [rows[first:last].reshape(last - first, self.row_bytes)]
            lines = out.reshape(len(out), self.row_bytes)
        else:
            (ys, xs, height, width) = window
            pieces = [rows[k, ys[i]:ys[i] + height, xs[i]:xs[i] + width]
                      for (i, k) in enumerate(range(first, last))]
            lines = out.reshape((-1,) + out.shape[2:])
        _stack(pieces, lines)

    def _read_rows(self, chunk, first, last, out):
        """Reads rows `[first, last)` of chunk `chunk` straight into `out`."""
        iov = np.array([[out.ctypes.data, out.nbytes]], np.uint64)
        self._preadv(iov, int(self.offsets[chunk]) + first * self.row_bytes)

    def _read_patches(self, chunk, first, last, out, ys, xs):
        """Reads each row's patch straight into `out`: its lines, the bytes between them discarded."""
        (count, height, width) = out.shape[:3]
        pixel = int(np.prod(out.shape[3:], dtype=np.int64))
        (line, row_line) = (width * pixel, int(self.shape[2]) * pixel)
        iov = np.empty((count, 2 * height - 1, 2), np.uint64)
        bases = out.ctypes.data + np.arange(count, dtype=np.uint64)[:, None] * np.uint64(height * line)
        iov[:, 0::2, 0] = bases + np.arange(height, dtype=np.uint64) * np.uint64(line)
        iov[:, 0::2, 1] = line
        iov[:, 1::2, 0] = self._discard.ctypes.data
        iov[:, 1::2, 1] = row_line - line
        offset = int(self.offsets[chunk])
        if 2 * height - 1 > _IOV_MAX:  # patches taller than 512 lines: several calls each
            for (i, k) in enumerate(range(first, last)):
                self._preadv(iov[i], offset + k * self.row_bytes + (ys[i] * row_line + xs[i] * pixel))
            return
        (address, step, entries) = (iov.ctypes.data, iov[0].nbytes, 2 * height - 1)
        expected = height * row_line - (row_line - line)
        for (i, k) in enumerate(range(first, last)):  # one call per patch, nothing else per row in Python
            at = offset + k * self.row_bytes + (ys[i] * row_line + xs[i] * pixel)
            got = _PREADV(self._fd, address + i * step, entries, at)
            if got != expected:
                _short_read(got, at)

    def _preadv(self, iov, offset):
        """Fills the `(n, 2)` (address, length) buffers of `iov` from `offset`, `_IOV_MAX` at a time."""
        for part in range(0, len(iov), _IOV_MAX):
            piece = np.ascontiguousarray(iov[part:part + _IOV_MAX])
            expected = int(piece[:, 1].sum())
            got = _PREADV(self._fd, piece.ctypes.data, len(piece), offset)
            if got != expected:
                _short_read(got, offset)
            offset += expected

    def _chunk(self, index):
        """Chunk `index`'s rows, read whole into this thread's buffer and verified."""
        scratch = getattr(self._scratch, "buffer", None)
        if scratch is None:
            scratch = self._scratch.buffer = np.empty(self._stored_bytes, np.uint8)
        self._preadv(np.array([[scratch.ctypes.data, scratch.nbytes]], np.uint64), int(self.offsets[index]))
        if self._crcs is not None:
            rows = min(self.chunk_rows, self.shape[0] - index * self.chunk_rows)
            (name, ok) = ("CRC32", crc32(scratch[: rows * self.row_bytes]) == self._crcs[index])
        else:
            (name, ok) = ("Fletcher32", fletcher32_matches(scratch))
        if not ok:
            raise OSError(
                f"data error detected by {name} checksum in chunk {index} "
                f"(rows from {index * self.chunk_rows})"
            )
        self.verified[index] = True
        return scratch[: self._data_bytes]


def _short_read(got, offset):
    """The error of a `preadv` at `offset` that returned `got` bytes, fewer than asked."""
    if got < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"reading at byte {offset} failed: {os.strerror(code)}")
    raise OSError(f"the file shrank under the reader (a short read at byte {offset})")


def _stack(pieces, out):
    """Copies equal-width 2-D (or up to 4-channel 3-D) views one below the other into `out`.

    One OpenCV call copies them all without the GIL; NumPy would take the GIL
    back after every piece, and worker threads then wait on each other more
    than they copy.
    """
    if not pieces:
        return
    if out.ndim == 3 and out.shape[2] > 4:  # OpenCV takes these as 3-D matrices
        np.concatenate(pieces, out=out)
        return
    if cv2.vconcat(pieces, dst=out) is not out:
        raise RuntimeError("OpenCV did not copy the rows into the batch")


def _stored_crcs(dataset, count, chunk_rows):
    """The writer's CRC32 of each chunk (`<name>_crc32`), or None in files without them."""
    crcs = dataset.file.get(dataset.name + CRC32_SUFFIX)
    if crcs is None:
        return None
    rows = crcs.attrs.get(CRC32_CHUNK_ROWS)
    if (not isinstance(crcs, h5py.Dataset) or crcs.shape != (count,) or crcs.dtype != np.uint32
            or rows != chunk_rows):
        raise ValueError(
            f"{crcs.name!r} does not hold one CRC32 per chunk of {dataset.name!r} "
            f"({count} chunks of {chunk_rows} rows); the file was changed after it was built."
        )
    try:
        return crcs[()]
    except OSError as error:
        raise OSError(f"{crcs.name!r} cannot be read ({error}); the file is corrupted: rebuild it.") from None


def _chunk_offsets(dataset, count, stored_bytes):
    """File offset of each chunk along the rows, read once from HDF5's index."""
    offsets = np.full(count, -1, np.int64)
    rows = dataset.chunks[0]
    odd = []

    def note(info):
        if info.size != stored_bytes or info.filter_mask != 0:
            odd.append(info)
        else:
            offsets[info.chunk_offset[0] // rows] = info.byte_offset

    if hasattr(dataset.id, "chunk_iter"):
        dataset.id.chunk_iter(note)
    else:  # h5py < 3.8 / HDF5 < 1.12.3
        for index in range(dataset.id.get_num_chunks()):
            note(dataset.id.get_chunk_info(index))
    if odd:
        raise ValueError(
            f"{dataset.name!r}: chunk at {odd[0].chunk_offset} holds {odd[0].size} bytes "
            f"(filter mask {odd[0].filter_mask}); expected {stored_bytes}."
        )
    if (offsets < 0).any():
        missing = int(np.flatnonzero(offsets < 0)[0])
        raise ValueError(f"{dataset.name!r}: chunk {missing} was never written.")
    return offsets
