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
serves a chunk it reads all of the chunk's rows, one row at a time through a
buffer that stays in the core's cache, and verifies the CRC32 the writer
stored (`<dataKey>_crc32`); in files without one it reads the chunk whole
and verifies HDF5's own `fletcher32`, recomputed with NumPy. Both run
without the GIL. Any other layout is left to h5py (`layout_problem` says
why).
"""

import ctypes
import os
import threading

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
    if _PREADV is None or not hasattr(os, "preadv"):
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
        self._scratch = threading.local()  # each thread's buffers for chunks being verified
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
        direct = []  # rows of chunks verified before: (their place in the batch, their file offset)
        row = start
        while row < stop:
            chunk, first = divmod(row, self.chunk_rows)
            last = min(stop - row, self.chunk_rows - first) + first
            (done, part) = (row - start, out[row - start:row - start + last - first])
            if self.checksum is not None and not self.verified[chunk]:
                verify = self._read_verified if self.checksum == "crc32" else self._copy_from_chunk
                verify(chunk, first, last, part, None if window is None else (ys[done:], xs[done:], height, width))
            elif window is None:
                self._read_into(part, int(self.offsets[chunk]) + first * self.row_bytes)
            else:
                direct.extend((done + i, int(self.offsets[chunk]) + k * self.row_bytes)
                              for (i, k) in enumerate(range(first, last)))
            row += last - first
        if direct:
            self._read_patches(direct, out, ys, xs)
        return out

    def _read_verified(self, chunk, first, last, out, window):
        """Reads chunk `chunk` row by row, verifying its CRC32, into `out` (rows `[first, last)`, or their patches).

        Rows of the batch without a window are read straight into `out`; the
        others pass through this thread's buffer of one row, small enough to
        stay in the core's cache while the CRC and the patch read it.
        """
        rows = min(self.chunk_rows, self.shape[0] - chunk * self.chunk_rows)
        (offset, value) = (int(self.offsets[chunk]), 0)
        line = self._row_buffer()
        for k in range(rows):
            inside = first <= k < last
            target = out[k - first] if inside and window is None else line
            self._read_into(target, offset + k * self.row_bytes)
            value = crc32(target, value)
            if inside and window is not None:
                (ys, xs, height, width) = window
                (y, x) = (ys[k - first], xs[k - first])
                out[k - first] = line.reshape(self.shape[1:])[y:y + height, x:x + width]
        if value != self._crcs[chunk]:
            raise OSError(f"data error detected by CRC32 checksum in chunk {chunk} "
                          f"(rows from {chunk * self.chunk_rows})")
        self.verified[chunk] = True

    def _copy_from_chunk(self, chunk, first, last, out, window):
        """Reads chunk `chunk` whole, verifies its fletcher32 and copies rows `[first, last)` (or their patches)."""
        whole = self._chunk_buffer()
        self._read_into(whole, int(self.offsets[chunk]))
        if not fletcher32_matches(whole):
            raise OSError(f"data error detected by Fletcher32 checksum in chunk {chunk} "
                          f"(rows from {chunk * self.chunk_rows})")
        self.verified[chunk] = True
        rows = whole[:self._data_bytes].reshape((self.chunk_rows,) + tuple(self.shape[1:]))
        if window is None:
            out[:] = rows[first:last]
            return
        (ys, xs, height, width) = window
        for (i, k) in enumerate(range(first, last)):
            out[i] = rows[k, ys[i]:ys[i] + height, xs[i]:xs[i] + width]

    def _read_patches(self, rows, out, ys, xs):
        """Reads the patches of `rows` (`(index in out, file offset of the row)`) straight into `out`.

        One `preadv` per patch reads the patch's span of the file in one
        sweep, `preadv` filling its buffers in order. When the bytes between
        two patch lines are no more than a line, each line's buffer runs on
        over them into the next line's place, which the next buffer then
        overwrites (the patch's last line gets only its own length); wider
        gaps go to this thread's discard buffer. No buffer is written by two
        threads.
        """
        (count, height, width) = out.shape[:3]
        pixel = int(np.prod(out.shape[3:], dtype=np.int64))
        (line, row_line) = (width * pixel, int(self.shape[2]) * pixel)
        (iov, step, calls) = self._patch_buffers(count, height, line, row_line)
        iov[:, ::step, 0] = (out.ctypes.data + np.arange(count, dtype=np.uint64)[:, None] * np.uint64(height * line)
                             + np.arange(height, dtype=np.uint64) * np.uint64(line))
        (address, size) = (iov.ctypes.data, iov.shape[1] * 16)
        for (i, offset) in rows:  # one call per patch (unless it needs more than _IOV_MAX buffers)
            at = offset + ys[i] * row_line + xs[i] * pixel
            for (first, entries, skip, expected) in calls:
                got = _PREADV(self._fd, address + i * size + first * 16, entries, at + skip)
                if got != expected:
                    _short_read(got, at + skip)

    def _patch_buffers(self, count, height, line, row_line):
        """This thread's iovec array for `count` patches (lengths set, line addresses not), and its calls.

        Returns:
            `(iov, step, calls)`: the `(count, entries, 2)` array, the step
            between a patch's line entries, and per `preadv` call of a patch
            `(first entry, entries, file bytes before it, bytes it reads)`.
        """
        key = (count, height, line, row_line)
        cached = getattr(self._scratch, "iov", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        gap = row_line - line
        if gap <= line:
            lengths = np.full(height, row_line, np.uint64)
            lengths[-1] = line
            (step, discard) = (1, None)
        else:
            lengths = np.full(2 * height - 1, gap, np.uint64)
            lengths[0::2] = line
            (step, discard) = (2, np.empty(gap, np.uint8))
        iov = np.empty((count, len(lengths), 2), np.uint64)
        iov[:, :, 1] = lengths
        if discard is not None:
            iov[:, 1::2, 0] = discard.ctypes.data
        before = [0] + np.cumsum(lengths, dtype=np.int64).tolist()
        calls = [(first, min(_IOV_MAX, len(lengths) - first), before[first],
                  before[min(first + _IOV_MAX, len(lengths))] - before[first])
                 for first in range(0, len(lengths), _IOV_MAX)]
        self._scratch.iov = (key, (iov, step, calls), discard)
        return (iov, step, calls)

    def _read_into(self, buffer, offset):
        """Fills the contiguous array `buffer` from the file at `offset` (the GIL released).

        Linux reads at most about 2 GiB per call: a larger buffer takes more
        calls. A read that returns nothing before the buffer is full is the
        end of the file, which has shrunk.
        """
        view = memoryview(buffer).cast("B")
        while len(view):
            got = os.preadv(self._fd, [view], offset)
            if got <= 0:
                _short_read(got, offset)
            (view, offset) = (view[got:], offset + got)

    def _row_buffer(self):
        """This thread's buffer of one row."""
        line = getattr(self._scratch, "row", None)
        if line is None:
            line = self._scratch.row = np.empty(self.row_bytes, np.uint8)
        return line

    def _chunk_buffer(self):
        """This thread's buffer of one stored chunk (rows and fletcher32)."""
        whole = getattr(self._scratch, "chunk", None)
        if whole is None:
            whole = self._scratch.chunk = np.empty(self._stored_bytes, np.uint8)
        return whole


def _short_read(got, offset):
    """The error of a `preadv` at `offset` that returned `got` bytes, fewer than asked."""
    if got < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"reading at byte {offset} failed: {os.strerror(code)}")
    raise OSError(f"the file shrank under the reader (a short read at byte {offset})")


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
