"""HDF5's `fletcher32` checksum computed with NumPy, outside HDF5's global lock.

HDF5 (`H5_checksum_fletcher32`) reads the data as big-endian 16-bit words (an
odd last byte is the high byte of a last word), keeps two running sums folded
into 16 bits with an end-around carry (arithmetic modulo 65535, where a
non-zero sum never folds to 0) and returns `(sum2 << 16) | sum1`. The filter
appends that value to the chunk as a little-endian 32-bit integer; HDF5 also
accepts its byte-reversed form (files written before HDF5 1.6.3).

`sum1` is the sum of the words and `sum2` the sum of their prefix sums, that is
`sum(w[i] * (n - i))`: both come from two NumPy reductions over the bytes
viewed as a `(blocks, rows, width)` array, which release the GIL and need no
per-byte weights.
"""

import numpy as np

_MOD = 65535
_WIDTH = 2048  # bytes per row of the reshaped chunk (even)
_ROWS = 16  # rows per block
_BYTE_WEIGHT = np.where(np.arange(_WIDTH) % 2 == 0, 256, 1).astype(np.int64)
_WORD = np.arange(_WIDTH, dtype=np.int64) // 2


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
    words = (len(data) + 1) // 2
    block = _WIDTH * _ROWS
    blocks = len(data) // block
    sum1 = sum2 = 0
    if blocks:
        cube = data[: blocks * block].reshape(blocks, _ROWS, _WIDTH)
        by_row = cube.sum(axis=0, dtype=np.uint32).astype(np.int64)  # (_ROWS, _WIDTH)
        by_block = cube.sum(axis=1, dtype=np.uint32).astype(np.int64)  # (blocks, _WIDTH)
        column = by_row.sum(axis=0)
        # sum over rows r of r * byte, per column; row r = block b * _ROWS + row-in-block
        row_index = (
            _ROWS * (np.arange(blocks, dtype=np.int64)[:, None] * by_block).sum(axis=0)
            + (np.arange(_ROWS, dtype=np.int64)[:, None] * by_row).sum(axis=0)
        ) % _MOD
        weight = ((words - _WORD) % _MOD) * (column % _MOD) - (_WIDTH // 2) * row_index
        sum1 = int((_BYTE_WEIGHT * column).sum())
        sum2 = int((_BYTE_WEIGHT * (weight % _MOD)).sum())
    first = blocks * block
    tail = data[first : len(data) - len(data) % 2]
    if len(tail):
        tail_words = tail[0::2].astype(np.int64) * 256 + tail[1::2]
        weight = (words - first // 2 - np.arange(len(tail_words), dtype=np.int64)) % _MOD
        sum1 += int(tail_words.sum())
        sum2 += int((weight * tail_words).sum())
    if len(data) % 2:
        last = int(data[-1]) * 256  # weight n - (n - 1) = 1
        sum1 += last
        sum2 += last
    if not data.any():
        return 0
    return (_fold(sum2) << 16) | _fold(sum1)


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
