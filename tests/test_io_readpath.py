"""The memory-mapped read path: the writer's CRC32 and HDF5's fletcher32 outside HDF5, corruption, layouts it leaves to h5py, forks."""

import multiprocessing
import os
import re
import zlib

import h5py
import numpy as np
import pytest
from datagen import write_coded_hdf5, write_noise_hdf5

from pyimagesearch.io import HDF5DatasetGenerator, HDF5DatasetWriter, hdf5datasetwriter
from pyimagesearch.io.readpath.checksum import ChunkCRC32, fletcher32, fletcher32_matches
from pyimagesearch.io.readpath import chunkreader
from pyimagesearch.io.readpath.chunkreader import ChunkReader


def _hdf5_fletcher32(data):
    """HDF5's H5_checksum_fletcher32, transcribed loop for loop."""
    data, length = bytes(data), len(data)
    words, sum1, sum2, at = length // 2, 0, 0, 0
    while words:
        block = min(words, 360)
        words -= block
        for _ in range(block):
            sum1 += (data[at] << 8) | data[at + 1]
            at += 2
            sum2 += sum1
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    if length % 2:
        sum1 += data[at] << 8
        sum2 += sum1
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
    sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    return (sum2 << 16) | sum1


@pytest.fixture
def small_chunks(monkeypatch):
    """Writers in this test write chunks of about 1 KiB (several chunks per small file)."""
    monkeypatch.setattr(hdf5datasetwriter, "_CHUNK_BYTES", 1024)


def test_fletcher32_is_hdf5s_algorithm():
    rng = np.random.default_rng(0)
    lengths = [1, 2, 3, 4, 5, 719, 720, 721, 1001, 32767, 32768, 32769, 65536 + 33]
    for length in lengths:
        data = rng.integers(0, 256, length, dtype=np.uint8)
        assert fletcher32(data) == _hdf5_fletcher32(data), length
    for length in (4, 33, 65536 + 1):  # zero sums and all-ones words (0xffff folds to itself)
        for value in (0, 255):
            data = np.full(length, value, np.uint8)
            assert fletcher32(data) == _hdf5_fletcher32(data), (length, value)
    assert fletcher32(b"") == 0
    with pytest.raises(ValueError, match="1-D uint8"):
        fletcher32(np.zeros((2, 2), np.uint8))


def test_fletcher32_matches_the_checksums_h5py_stores(tmp_path):
    rng = np.random.default_rng(1)
    lengths = [1, 3, 6, 4097, 32768 + 7, 70001]  # odd and even, odd file offsets
    with h5py.File(tmp_path / "f.h5", "w") as db:
        for length in lengths:
            db.create_dataset(str(length), data=rng.integers(0, 256, 3 * length, dtype=np.uint8),
                              chunks=(length,), fletcher32=True)
    with h5py.File(tmp_path / "f.h5", "r") as db:
        for length in lengths:
            for chunk in range(3):
                mask, stored = db[str(length)].id.read_direct_chunk((chunk * length,))
                stored = np.frombuffer(stored, np.uint8)
                assert mask == 0 and len(stored) == length + 4
                assert fletcher32_matches(stored), length
                assert fletcher32(stored[:-4]) == int.from_bytes(stored[-4:], "little")


@pytest.mark.parametrize("rows, buf_size, written", [(60, 7, 60), (60, 1000, 60), (23, 4, 23), (40, 6, 31)])
def test_the_writer_stores_each_chunks_crc32(tmp_path, small_chunks, rows, buf_size, written):
    path = tmp_path / "crc.hdf5"
    images = np.random.default_rng(rows).integers(0, 256, (rows, 8, 8, 3), dtype=np.uint8)
    with HDF5DatasetWriter(images.shape, path, bufSize=buf_size) as writer:
        for start in range(0, written, 3):  # rows arrive in pieces that straddle the chunks
            writer.add(images[start:min(start + 3, written)], np.zeros(min(3, written - start), int))
    with h5py.File(path, "r") as db:
        chunk_rows = db["images"].chunks[0]
        crcs = db["images_crc32"]
        assert crcs.attrs["chunk_rows"] == chunk_rows and crcs.dtype == np.uint32
        expected = [zlib.crc32(images[i:min(i + chunk_rows, written)].tobytes())
                    for i in range(0, written, chunk_rows)]
        assert 1 < chunk_rows < written and list(crcs[()]) == expected
        assert ChunkReader(db["images"]).checksum == "crc32"


def test_chunk_crc32_of_other_dtypes_is_of_their_bytes():
    rows = np.arange(7 * 3, dtype="float32").reshape(7, 3)
    crc = ChunkCRC32(3)
    crc.update(rows[:2])
    crc.update(rows[2:])
    assert list(crc.values()) == [zlib.crc32(rows[i:i + 3].tobytes()) for i in (0, 3, 6)]
    assert ChunkCRC32(4).values().tolist() == []


def test_no_crc32_without_checksums_or_with_compression(tmp_path):
    for (name, options) in {"raw": dict(checksum=False), "gzip": dict(compression="gzip")}.items():
        write_noise_hdf5(tmp_path / f"{name}.hdf5", (9, 4, 4, 3), 3, **options)
        with h5py.File(tmp_path / f"{name}.hdf5", "r") as db:
            assert "images_crc32" not in db
    assert "(no checksums)" in repr(HDF5DatasetGenerator(tmp_path / "raw.hdf5", 4, classes=3))


@pytest.mark.parametrize("checksum", ["crc32", "fletcher32"])
def test_random_byte_flips_in_image_chunks_are_all_detected_by_the_reader(tmp_path, small_chunks, checksum):
    path = tmp_path / "flips.hdf5"
    write_coded_hdf5(path, num_rows=60, classes=3, size=(8, 8))
    if checksum == "fletcher32":  # a file written before the writer stored CRC32s
        with h5py.File(path, "r+") as db:
            del db["images_crc32"]
    with h5py.File(path, "r") as db, open(path, "r+b") as raw:
        reader = ChunkReader(db["images"])
        assert reader.checksum == checksum and len(reader.offsets) >= 10
        data_bytes = reader._data_bytes
        (flips, tried, undetected) = (1100, 0, 0)
        rng = np.random.default_rng(5)
        # flipped in the file itself (the page cache the reader reads), and flipped back
        for chunk, at, xor in zip(rng.integers(0, len(reader.offsets), flips),
                                  rng.integers(0, data_bytes, flips), rng.integers(1, 256, flips)):
            place = int(reader.offsets[chunk]) + int(at)
            rows = min(reader.chunk_rows, reader.shape[0] - chunk * reader.chunk_rows)
            if at >= rows * reader.row_bytes:  # HDF5's padding after the last row: not data
                continue
            byte = os.pread(raw.fileno(), 1, place)[0]
            os.pwrite(raw.fileno(), bytes([byte ^ int(xor)]), place)
            (reader.verified[:], tried) = (False, tried + 1)
            try:
                reader.read(int(chunk) * reader.chunk_rows, int(chunk) * reader.chunk_rows + rows)
                undetected += 1
            except OSError as error:
                name = {"crc32": "CRC32", "fletcher32": "Fletcher32"}[checksum]
                assert f"{name} checksum in chunk {chunk}" in str(error)
            os.pwrite(raw.fileno(), bytes([byte]), place)
        reader.verified[:] = False
        reader.read(0, reader.shape[0])
    assert tried >= 1000 and undetected == 0


def test_crc32s_that_do_not_fit_the_chunks_fall_back_to_h5py(tmp_path, small_chunks):
    path = tmp_path / "data.hdf5"
    write_coded_hdf5(path, num_rows=30, classes=3, size=(8, 8))
    with h5py.File(path, "r+") as db:
        values = db["images_crc32"][()]
        del db["images_crc32"]
        db.create_dataset("images_crc32", data=values[:-1]).attrs["chunk_rows"] = db["images"].chunks[0]
    gen = HDF5DatasetGenerator(path, 10, classes=3)
    assert gen.read_path == "h5py" and "does not hold one CRC32 per chunk" in repr(gen)
    with pytest.raises(ValueError, match="read_path='mmap' cannot read .*changed after it was built"):
        HDF5DatasetGenerator(path, 10, classes=3, read_path="mmap")


def test_a_flipped_byte_on_disk_fails_the_batch_naming_the_file(tmp_path, small_chunks):
    path = tmp_path / "data.hdf5"
    write_coded_hdf5(path, num_rows=60, classes=3, size=(8, 8))
    with h5py.File(path, "r") as db:
        chunks = [db["images"].id.get_chunk_info(i) for i in range(db["images"].id.get_num_chunks())]
        rows = db["images"].chunks[0]
    rng = np.random.default_rng(3)
    for index in rng.choice(len(chunks), 6, replace=False):
        at = chunks[index].byte_offset + int(rng.integers(0, chunks[index].size - 4))  # not fletcher32's
        original = np.fromfile(path, np.uint8, count=1, offset=at)
        with open(path, "r+b") as handle:
            handle.seek(at)
            handle.write(bytes([original[0] ^ 0x5A]))
        gen = HDF5DatasetGenerator(path, rows, classes=3)
        assert gen.read_path == "mmap" and "verified by crc32" in repr(gen)
        with pytest.raises(OSError, match="data.hdf5.*'images'.*CRC32.*corrupted"):
            gen[int(index)]
        gen.close()
        with open(path, "r+b") as handle:
            handle.seek(at)
            handle.write(original.tobytes())
        HDF5DatasetGenerator(path, rows, classes=3)[int(index)]


def test_verified_chunks_are_verified_again_after_a_reopen(tmp_path, small_chunks):
    path = tmp_path / "data.hdf5"
    write_coded_hdf5(path, num_rows=30, classes=3, size=(8, 8))
    gen = HDF5DatasetGenerator(path, 30, classes=3)
    gen[0]
    assert gen.file._reader.verified.all()
    chunk = gen.file._reader.offsets[0]
    gen.close()
    before = os.stat(path)
    with open(path, "r+b") as handle:
        handle.seek(int(chunk) + 3)
        handle.write(b"\x00\xff")
    # the modification time put back: only the checksum, verified again after the reopen, can tell
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(OSError, match="corrupted"):
        gen[0]


def _layouts(tmp_path):
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (23, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(23) % 3
    files = {}
    for name, options in {"gzip": dict(compression="gzip"), "raw": dict(checksum=False)}.items():
        files[name] = tmp_path / f"{name}.hdf5"
        with HDF5DatasetWriter(images.shape, files[name], **options) as writer:
            writer.add(images, labels)
    files["float32"] = tmp_path / "float32.hdf5"
    with HDF5DatasetWriter(images.shape, files["float32"]) as writer:
        writer.add(images.astype("float32"), labels)
    for name, options in {"contiguous": {}, "split-rows": dict(chunks=(4, 4, 8, 3)),
                          "shuffle-filter": dict(chunks=(5, 8, 8, 3), shuffle=True)}.items():
        files[name] = tmp_path / f"{name}.hdf5"
        with h5py.File(files[name], "w") as db:
            db.create_dataset("images", data=images, **options)
            db.create_dataset("labels", data=labels)
    files["unwritten"] = tmp_path / "unwritten.hdf5"
    with h5py.File(files["unwritten"], "w") as db:
        data = db.create_dataset("images", shape=images.shape, dtype="uint8", chunks=(5, 8, 8, 3))
        data[:10] = images[:10]
        db.create_dataset("labels", data=labels)
    return files, images


@pytest.mark.parametrize("name, path, reason", [
    ("raw", "mmap", None), ("gzip", "h5py", "compressed (gzip)"), ("float32", "h5py", "dtype float32"),
    ("contiguous", "h5py", "not chunked"), ("split-rows", "h5py", "split rows"),
    ("shuffle-filter", "h5py", "compressed"), ("unwritten", "h5py", "never written"),
])
def test_other_layouts_fall_back_to_h5py_and_say_why(tmp_path, name, path, reason):
    files, images = _layouts(tmp_path)
    gen = HDF5DatasetGenerator(files[name], 10, classes=3)
    assert gen.read_path == path
    assert f"read_path={path!r}" in repr(gen)
    if reason is not None:
        assert reason in repr(gen)
        with pytest.raises(ValueError, match=f"read_path=.mmap. cannot read .*{name}.hdf5.*{re.escape(reason)}"):
            HDF5DatasetGenerator(files[name], 10, classes=3, read_path="mmap")
    if name == "unwritten":
        images[10:] = 0  # HDF5's fill value
    served = np.concatenate([gen[i][0] for i in range(len(gen))])
    np.testing.assert_array_equal(served, images.astype(served.dtype))


def test_read_path_h5py_is_said_and_a_bad_read_path_is_refused(tmp_path):
    path = tmp_path / "data.hdf5"
    write_coded_hdf5(path, num_rows=12, classes=3)
    gen = HDF5DatasetGenerator(path, 5, classes=3, read_path="h5py")
    assert gen.read_path == "h5py" and "read_path='h5py' (requested)" in repr(gen)
    with pytest.raises(ValueError, match=r"read_path must be one of \('auto', 'mmap', 'h5py'\), got 'fast'"):
        HDF5DatasetGenerator(path, 5, classes=3, read_path="fast")


def test_a_file_truncated_under_the_map_raises_instead_of_crashing(tmp_path, small_chunks):
    path = tmp_path / "data.hdf5"
    write_coded_hdf5(path, num_rows=60, classes=3, size=(8, 8))
    gen = HDF5DatasetGenerator(path, 10, classes=3)
    gen[0]
    os.truncate(path, 4096)  # in place: the map is of this inode
    with pytest.raises(OSError, match="data.hdf5.*shrank"):
        gen[5]


def _child_batch(gen, queue):
    images, _ = gen[1]
    queue.put((images, gen.file._reader._pid == os.getpid()))


def test_a_forked_child_maps_the_file_again(tmp_path, small_chunks):
    path = tmp_path / "data.hdf5"
    write_coded_hdf5(path, num_rows=30, classes=3, size=(8, 8))
    gen = HDF5DatasetGenerator(path, 10, classes=3)
    expected = gen[1][0]
    parent_reader = gen.file._reader
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_batch, args=(gen, queue))
    child.start()
    images, own_map = queue.get(timeout=120)
    child.join(timeout=120)
    assert child.exitcode == 0 and own_map
    np.testing.assert_array_equal(images, expected)
    assert gen.file._reader is parent_reader
    with pytest.raises(RuntimeError, match="after a fork"):
        context_reader = ChunkReader.__new__(ChunkReader)
        context_reader.__dict__.update(parent_reader.__dict__, _pid=-1)
        context_reader.read(0, 1)


class _PerImage:
    """A preprocessor with only the book's `preprocess(image)`."""

    def preprocess(self, image):
        return image[::-1]


@pytest.mark.parametrize("channels", [3, None], ids=["color", "gray"])
@pytest.mark.parametrize("chain", ["patch", "patch+mean", "per-image"])
def test_patches_cut_from_the_map_equal_the_h5py_chain(tmp_path, monkeypatch, small_chunks, channels, chain):
    from pyimagesearch.preprocessing import (ImageToArrayPreprocessor, MeanPreprocessor,
                                             PatchPreprocessor)

    shape = (37, 12, 10) + ((channels,) if channels else ())
    path = tmp_path / "data.hdf5"
    (images, _) = write_noise_hdf5(path, shape, 3, seed=5)

    def make(read_path):
        steps = [PatchPreprocessor(7, 9, seed=6)]
        if chain == "patch+mean":  # the book's chain (grey images: to-array only)
            steps += [MeanPreprocessor(100.0, 110.0, 120.0)] if channels else []
            steps.append(ImageToArrayPreprocessor())
        if chain == "per-image":
            steps.append(_PerImage())
        return HDF5DatasetGenerator(path, 8, preprocessors=steps, classes=3, shuffle=True, seed=7,
                                    read_path=read_path)

    mapped, through_h5py = make("mmap"), make("h5py")
    assert mapped.file._reader is None and len(mapped) == 5
    windows, original = [], ChunkReader.read

    def spy(self, start, stop, window=None):  # records whether the patch was cut from the map
        windows.append(window is not None)
        return original(self, start, stop, window)

    monkeypatch.setattr(ChunkReader, "read", spy)
    for _ in range(2):
        for index in range(len(mapped)):
            got, want = mapped[index][0], through_h5py[index][0]
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
        mapped.on_epoch_end()
        through_h5py.on_epoch_end()
    assert len(windows) == 10 and set(windows) == {chain != "per-image"}


@pytest.mark.parametrize("row_shape", [(9, 8), (9, 8, 3), (9, 8, 5)], ids=["gray", "color", "5-channel"])
def test_rows_and_windows_read_from_the_map_equal_numpys(tmp_path, small_chunks, row_shape):
    path = tmp_path / "data.hdf5"
    (images, _) = write_noise_hdf5(path, (23,) + row_shape, 3, seed=9)
    with h5py.File(path, "r") as db:
        reader = ChunkReader(db["images"])
        assert 1 < reader.chunk_rows < 23
        rng = np.random.default_rng(10)
        for (start, stop) in [(0, 23), (3, 17), (5, 6), (13, 16), (22, 23), (4, 4)]:
            np.testing.assert_array_equal(reader.read(start, stop), images[start:stop])
            (ys, xs) = (rng.integers(0, 4, stop - start), rng.integers(0, 3, stop - start))
            window = reader.read(start, stop, (ys, xs, 6, 6))
            expected = [images[row, y:y + 6, x:x + 6] for (row, y, x) in zip(range(start, stop), ys, xs)]
            assert window.shape == (stop - start, 6, 6) + row_shape[2:]
            np.testing.assert_array_equal(window, np.array(expected).reshape(window.shape))


@pytest.mark.parametrize("iov_max", [1024, 4, 1], ids=["one call per patch", "two calls", "one line per call"])
def test_windows_read_on_a_first_pass_and_after_it_equal_numpys(tmp_path, small_chunks, monkeypatch, iov_max):
    # each patch line's buffer runs on over the gap to the next line, which overwrites it: the last
    # line of a patch, of a call and of the batch must still end where they should
    monkeypatch.setattr(chunkreader, "_IOV_MAX", iov_max)
    path = tmp_path / "data.hdf5"
    (images, _) = write_noise_hdf5(path, (23, 9, 8, 3), 3, seed=11)
    rng = np.random.default_rng(12)
    with h5py.File(path, "r") as db:
        reader = ChunkReader(db["images"])
        for (height, width) in [(6, 6), (1, 8), (9, 8), (6, 1)]:
            reader.verified[:] = False
            for state in ("first pass", "verified"):
                (ys, xs) = (rng.integers(0, 10 - height, 23), rng.integers(0, 9 - width, 23))
                out = reader.read(0, 23, (ys, xs, height, width))
                expected = [images[row, y:y + height, x:x + width] for (row, y, x) in zip(range(23), ys, xs)]
                np.testing.assert_array_equal(out, np.array(expected), err_msg=f"{state} {height}x{width}")
                assert reader.verified.all()


def test_a_read_the_system_cuts_short_reads_on_and_only_nothing_is_a_shrunk_file(tmp_path, small_chunks,
                                                                                monkeypatch):
    # Linux returns at most about 2 GiB per read: a larger batch takes more calls
    path = tmp_path / "data.hdf5"
    (images, _) = write_noise_hdf5(path, (23, 9, 8, 3), 3, seed=13)
    real = os.preadv
    calls = []

    def at_most_100_bytes(fd, buffers, offset):
        calls.append(offset)
        return real(fd, [memoryview(buffers[0])[:100]], offset)

    with h5py.File(path, "r") as db:
        reader = ChunkReader(db["images"])
        monkeypatch.setattr(chunkreader.os, "preadv", at_most_100_bytes)
        np.testing.assert_array_equal(reader.read(0, 23), images)  # the first pass, row by row
        np.testing.assert_array_equal(reader.read(3, 17), images[3:17])  # verified chunks, whole
        assert len(calls) > 23 * 9 * 8 * 3 // 100
        monkeypatch.setattr(chunkreader.os, "preadv", lambda fd, buffers, offset: 0)
        with pytest.raises(OSError, match="the file shrank under the reader"):
            reader.read(0, 5)
