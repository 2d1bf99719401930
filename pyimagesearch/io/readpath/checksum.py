"""Chunk checksums verified outside HDF5's global lock.

Two checksums, both computed without holding the GIL:

- HDF5's own `fletcher32`, recomputed with NumPy, for files written before
  the library stored its own checksums (or by other tools).
  HDF5 (`H5_checksum_fletcher32`) reads the data as big-endian 16-bit words
  (an odd last byte is the high byte of a last word), keeps two running sums
  folded into 16 bits with an end-around carry (arithmetic modulo 65535,
  where a non-zero sum never folds to 0) and returns `(sum2 << 16) | sum1`.
  The filter appends that value to the chunk as a little-endian 32-bit
  integer; HDF5 also accepts its byte-reversed form (files written before
  HDF5 1.6.3). `sum1` is the sum of the words and `sum2` the sum of their
  prefix sums, that is `sum(w[i] * (n - i))`: both come from two NumPy
  reductions over the data viewed as a `(blocks, rows, width)` array of
  16-bit lanes, which need no per-word weights.
- A CRC32 of each chunk's rows (zlib's CRC32), which `HDF5DatasetWriter`
  computes as it writes and stores beside the rows in the dataset
  `<dataKey>_crc32` (`ChunkCRC32`). ISA-L computes it about 8 times as fast
  as NumPy's fletcher32 (zlib, its fallback where ISA-L is not installed,
  about as fast).
"""

import zlib

import numpy as np

try:  # the same function as zlib.crc32, with ISA-L's folding instructions
    from isal.isal_zlib import crc32
    CRC32_LIBRARY = "isal"
except ImportError:  # pragma: no cover - isal is a dependency where it has wheels
    crc32 = zlib.crc32
    CRC32_LIBRARY = "zlib"

# the CRC dataset beside a data dataset: `<dataKey>_crc32`, with these attributes
CRC32_SUFFIX = "_crc32"
CRC32_CHUNK_ROWS = "chunk_rows"

_MOD = 65535
_WIDTH = 1024  # 16-bit words per row of the reshaped chunk
_ROWS = 16  # rows per block
_COLUMN = np.arange(_WIDTH, dtype=np.int64)
_ROW = np.arange(_ROWS, dtype=np.uint64)


def fletcher32(data):
    """Returns HDF5's fletcher32 value of `data`.

    Args:
        data: a bytes-like object or a 1-D `uint8` array.

    Returns:
        The checksum, an `int` in `[0, 2**32)`.
    """
    data = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data
    if data.dtype != np.uint8 or data.ndim != 1:
        raise ValueError(f"data must be bytes or a 1-D uint8 array, got {data.dtype} {data.shape}.")
    even = len(data) - len(data) % 2
    if data.ctypes.data % 2:
        data = data.copy()  # 16-bit lanes need an aligned buffer; a copy is cheaper than the sums
    # a big-endian word w = 256 a + b read as a little-endian lane v = a + 256 b:
    # 256 v = 256 a + 65536 b = w (mod 65535), so the sums run on the lanes as they are
    lanes = data[:even].view("<u2")
    words = (len(data) + 1) // 2
    block = _WIDTH * _ROWS
    blocks = len(lanes) // block
    sum1 = sum2 = 0
    if blocks:
        cube = lanes[: blocks * block].reshape(blocks, _ROWS, _WIDTH)
        by_row = cube.sum(axis=0, dtype=np.uint32 if blocks <= 65536 else np.uint64)
        by_block = cube.sum(axis=1, dtype=np.uint32)  # (blocks, _WIDTH), each <= _ROWS * 65535
        column = by_row.sum(axis=0).astype(np.int64) % _MOD
        # sum over rows r = b * _ROWS + q of r * lane, per column: float64 is exact below
        # 2**53, which these sums stay under up to 65,536 blocks (2 GiB chunks)
        index = np.arange(blocks, dtype=np.float64 if blocks <= 65536 else np.uint64)
        by_blocks = (index @ by_block).astype(np.int64) % _MOD
        row_weighted = (_ROWS * by_blocks + (_ROW @ by_row) % _MOD) % _MOD
        sum1 = int(column.sum())
        sum2 = int((((words - _COLUMN) % _MOD) * column).sum()) - _WIDTH * int(row_weighted.sum())
    tail = lanes[blocks * block:].astype(np.int64)
    if len(tail):
        weight = (words - blocks * block - np.arange(len(tail), dtype=np.int64)) % _MOD
        sum1 += int(tail.sum())
        sum2 += int((weight * tail).sum())
    if len(data) % 2:
        sum1 += int(data[-1])  # the high byte of a last word, weight n - (n - 1) = 1
        sum2 += int(data[-1])
    if (256 * sum1) % _MOD == 0 and (256 * sum2) % _MOD == 0 and not data.any():
        return 0  # HDF5's sums of zeros stay 0; any other sum folds to [1, 65535]
    return (_fold(256 * sum2) << 16) | _fold(256 * sum1)


def stored_fletcher32(stored):
    """Returns the checksum a fletcher32 filter appended: the last 4 bytes, little-endian."""
    return int.from_bytes(bytes(stored[-4:]), "little")


def fletcher32_matches(chunk):
    """Whether a chunk as stored (data then 4 checksum bytes) passes HDF5's check.

    Args:
        chunk: 1-D `uint8` array of the stored chunk.

    Returns:
        True when the stored checksum equals the data's (or its byte-reversed
        form, which HDF5 also accepts).
    """
    stored = stored_fletcher32(chunk)
    value = fletcher32(chunk[:-4])
    return stored == value or stored == int.from_bytes(value.to_bytes(4, "little"), "big")


def _fold(total):
    """A sum reduced as HDF5's end-around carry leaves it: in [1, 65535] when non-zero."""
    return (total - 1) % _MOD + 1


class ChunkCRC32:
    """The CRC32 of each chunk of a row-chunked dataset, computed as its rows are written.

    Chunk `i` holds rows `[i * chunk_rows, (i + 1) * chunk_rows)`; its value
    is `crc32` of those rows' bytes in the file's order, the last chunk's
    rows only (not HDF5's padding).

    Args:
        chunk_rows: rows per chunk (the dataset's `chunks[0]`).
    """

    def __init__(self, chunk_rows):
        self.chunk_rows = int(chunk_rows)
        self._values = []
        self._running = 0
        self._rows = 0  # rows in the current, unfinished chunk

    def update(self, rows):
        """Adds the next rows, in the order they are written.

        Args:
            rows: `(n, ...)` array of the rows as stored (their dtype).
        """
        flat = np.ascontiguousarray(rows).reshape(len(rows), -1).view(np.uint8)
        at = 0
        while at < len(flat):
            take = min(len(flat) - at, self.chunk_rows - self._rows)
            self._running = crc32(flat[at:at + take], self._running)
            (self._rows, at) = (self._rows + take, at + take)
            if self._rows == self.chunk_rows:
                self._values.append(self._running)
                (self._running, self._rows) = (0, 0)

    def values(self):
        """Returns the chunks' values so far, an unfinished last chunk included, as `uint32`."""
        values = self._values + ([self._running] if self._rows else [])
        return np.asarray(values, np.uint32)
