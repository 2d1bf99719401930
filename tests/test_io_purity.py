"""Readers never write; journals are confined to their folder; a file that shrinks or changes under a reader ends the read in one line."""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import h5py
import pytest
from datagen import write_coded_hdf5, write_image_tree

from pyimagesearch import cli
from pyimagesearch.infra import orphans, publish
from pyimagesearch.infra.journal import JOURNAL, JournalError
from pyimagesearch.io import HDF5DatasetGenerator, build_hdf5_splits, check_same_build, hdf5datasetwriter
from pyimagesearch.io.readpath.datasetfile import FileChangedError

HOST = orphans.host_tag()


def _state(folder):
    """Every entry under `folder` (links not followed): kind, mode, size, mtime and bytes."""
    state = {}
    for (root, folders, files) in os.walk(folder):
        for name in folders + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            content = open(path, "rb").read() if stat.S_ISREG(info.st_mode) else os.readlink(path) \
                if stat.S_ISLNK(info.st_mode) else None
            state[os.path.relpath(path, folder)] = (info.st_mode, info.st_size, info.st_mtime_ns, content)
    return state


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A built set (train/val/test/means), copied by each test that changes it."""
    root = tmp_path_factory.mktemp("purity")
    write_image_tree(root / "images", per_class=6, ext="png")
    report = build_hdf5_splits(root / "images", root / "set", size=8, val_size=3, test_size=3,
                               workers=1, verbose=False)
    return root, report


def _copy_set(built, tmp_path):
    import shutil

    shutil.copytree(built[0] / "set", tmp_path / "set")
    return tmp_path / "set"


def _journal(folder, moves, removals=(), **extra):
    content = {"host": HOST, "hostname": "here", "pid": 2 ** 22 + 1, "since": "",
               "moves": moves, "removals": list(removals), **extra}
    (folder / JOURNAL).write_text(json.dumps(content))


def _temporary(folder, target, pid=2 ** 22 + 1):
    """A finished temporary of `target` as the library names them, with the bytes of val.hdf5."""
    suffix = os.path.splitext(target)[1]
    path = folder / f".{target}.{HOST}-{pid}.abc123.tmp{suffix}"
    path.write_bytes((folder / "val.hdf5").read_bytes())
    return path.name


# 1. a reader is pure: an unfinished publish is refused, never completed, by a reader

def test_readers_refuse_an_unfinished_publish_and_change_nothing(built, tmp_path):
    folder = _copy_set(built, tmp_path)
    _journal(folder, [[_temporary(folder, "train.hdf5"), "train.hdf5"]], removals=["test.hdf5"])
    before = _state(folder)
    readers = {
        "generator": lambda: HDF5DatasetGenerator(folder / "val.hdf5", 2, classes=3),
        "generator with workers": lambda: HDF5DatasetGenerator(
            folder / "val.hdf5", 2, classes=3, workers=2, use_multiprocessing=True, shared_memory=True),
        "build-id check": lambda: check_same_build([folder / "val.hdf5", folder / "mean.json"]),
    }
    for name, read in readers.items():
        with pytest.raises(publish.UnfinishedPublishError) as refused:
            read()
        message = str(refused.value)
        assert "\n" not in message and repr(str(folder)) in message, name
        assert f"pyimagesearch repair {folder}" in message, name
        assert _state(folder) == before, name  # no lock, no rename, no removal, no sweep
    assert cli.main(["repair", str(folder)]) == 0  # the writer's side completes it
    assert not (folder / JOURNAL).exists() and not (folder / "test.hdf5").exists()
    HDF5DatasetGenerator(folder / "val.hdf5", 2, classes=3)


def test_a_generator_starts_nothing_and_writes_nothing_until_batches_are_asked_for(built, tmp_path):
    import psutil

    folder = _copy_set(built, tmp_path)
    orphan = folder / f".train.hdf5.{HOST}-{2 ** 22 + 1}.abc123.tmp.hdf5"  # a dead writer's temporary
    orphan.write_bytes(b"x")
    children = lambda: {child.pid for child in psutil.Process().children(recursive=True)}  # noqa: E731
    (before, running) = (_state(folder), children())
    gen = HDF5DatasetGenerator(folder / "train.hdf5", 4, classes=3, workers=2, use_multiprocessing=True)
    repr(gen), len(gen), gen.numImages
    assert _state(folder) == before and children() - running == set()
    assert gen._pool is None
    gen[0]
    assert len(children() - running) == 2  # the workers come with the first batch
    gen.close()


def test_a_read_only_folder_with_a_journal_gets_one_clear_line(built, tmp_path, capsys):
    folder = _copy_set(built, tmp_path)
    _journal(folder, [[_temporary(folder, "train.hdf5"), "train.hdf5"]])
    before = _state(folder)
    os.chmod(folder, 0o555)  # a read-only mount's reader: it never tries to write
    try:
        with pytest.raises(publish.UnfinishedPublishError, match="pyimagesearch repair"):
            HDF5DatasetGenerator(folder / "val.hdf5", 2, classes=3)
        if os.geteuid() != 0:  # root writes anywhere: only another user meets the refusal
            assert cli.main(["repair", str(folder)]) == 2
            assert capsys.readouterr().err.count("\n") == 1
    finally:
        os.chmod(folder, 0o755)
    assert _state(folder) == before


# 2. the write side is confined: every journal entry a bare file name of the library's kinds

def _outside_victim(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "private.hdf5"
    victim.write_bytes(b"keep me")
    os.chmod(victim, 0o600)
    return elsewhere, victim


def _hostile_journals(folder, elsewhere, victim):
    """Journal contents that must be refused, each touching nothing."""
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    link = f".train.hdf5.{HOST}-{2 ** 22 + 2}.abc123.tmp.hdf5"
    (folder / link).symlink_to(victim)  # a temporary that is a link: its mode would be widened
    good = _temporary(folder, "train.hdf5")
    return {
        "parent in a move": {"moves": [[good, "../elsewhere/private.hdf5"]], "removals": []},
        "parent in a removal": {"moves": [], "removals": ["../elsewhere/private.hdf5"]},
        "absolute removal": {"moves": [], "removals": [str(victim)]},
        "absolute move": {"moves": [[str(victim), "train.hdf5"]], "removals": []},
        "through a symlinked folder": {"moves": [], "removals": ["linked/private.hdf5"]},
        "temporary that is a link": {"moves": [[link, "train.hdf5"]], "removals": []},
        "wrong kind": {"moves": [], "removals": ["notes.txt"]},
        "not a temporary of its target": {"moves": [["val.hdf5", "train.hdf5"]], "removals": []},
        "number for a list": {"moves": 5, "removals": []},
        "three-part move": {"moves": [[good, "train.hdf5", "x.hdf5"]], "removals": []},
        "missing key": {"moves": []},
        "not an object": [],
        "not JSON": None,
    }


def test_hostile_or_malformed_journals_are_refused_touching_nothing(built, tmp_path, capsys):
    folder = _copy_set(built, tmp_path)
    (elsewhere, victim) = _outside_victim(tmp_path)
    cases = _hostile_journals(folder, elsewhere, victim)
    journal = folder / JOURNAL
    for name, content in cases.items():
        journal.write_text("{not json" if content is None else json.dumps(
            content if not isinstance(content, dict) else {"host": HOST, "pid": 2 ** 22 + 1, **content}))
        before = (_state(folder), _state(elsewhere))
        for act in (publish.finish_publish, lambda f: HDF5DatasetGenerator(f / "val.hdf5", 2, classes=3)):
            with pytest.raises(JournalError) as refused:
                act(folder)
            message = str(refused.value)
            assert "\n" not in message and repr(str(journal)) in message and "nothing was touched" in message, name
            assert (_state(folder), _state(elsewhere)) == before, name
        assert cli.main(["repair", str(folder)]) == 2, name
        assert capsys.readouterr().err.count("\n") == 1, name
        assert (_state(folder), _state(elsewhere)) == before, name
        assert stat.S_IMODE(os.stat(victim).st_mode) == 0o600 and victim.read_bytes() == b"keep me"
    # a build into the folder meets the same refusal before it publishes anything
    journal.write_text(json.dumps({"moves": [], "removals": ["../elsewhere/private.hdf5"]}))
    with pytest.raises(JournalError, match="not a file name inside its folder"):
        build_hdf5_splits(built[0] / "images", folder, size=8, val_size=3, test_size=3, workers=1,
                          overwrite=True, verbose=False)
    assert victim.read_bytes() == b"keep me" and journal.exists()


def test_a_journal_that_is_a_symlink_is_refused(built, tmp_path):
    folder = _copy_set(built, tmp_path)
    (elsewhere, victim) = _outside_victim(tmp_path)
    real = elsewhere / "journal.json"
    real.write_text(json.dumps({"moves": [], "removals": ["train.hdf5"]}))
    (folder / JOURNAL).symlink_to(real)
    with pytest.raises(JournalError, match="symbolic link"):
        publish.finish_publish(folder)
    assert (folder / "train.hdf5").exists()


def test_a_publish_refuses_files_outside_its_folder(tmp_path):
    (tmp_path / "set").mkdir()
    temporary = tmp_path / "set" / f".x.hdf5.{HOST}-{os.getpid()}.abc.tmp.hdf5"
    temporary.write_bytes(b"new")
    with publish.folder_lock(tmp_path / "set"), pytest.raises(ValueError, match="not a file directly inside"):
        publish.publish_set(tmp_path / "set", [(temporary, tmp_path / "x.hdf5")])
    assert temporary.exists() and not (tmp_path / "x.hdf5").exists()


# 3. build outputs stay in --output unless an absolute path says otherwise

def test_means_naming_a_split_or_leaving_output_is_refused(built, tmp_path):
    for (means, why) in [("train.hdf5", "a .json file"), ("../x.json", "inside the output folder"),
                         ("sub/mean.json", "inside the output folder"), (".json", "a .json file")]:
        with pytest.raises(ValueError, match=f"means_name '{means}'.*{why}"):
            build_hdf5_splits(built[0] / "images", tmp_path / "out", size=8, means_name=means, verbose=False)
        assert not (tmp_path / "out").exists() and not (tmp_path / "x.json").exists()


def test_an_absolute_means_path_outside_output_is_written_and_said(built, tmp_path, capsys):
    means = tmp_path / "elsewhere" / "means.json"
    report = build_hdf5_splits(built[0] / "images", tmp_path / "out", size=8, val_size=3, test_size=3,
                               workers=1, means_name=str(means))
    said = capsys.readouterr().out
    assert f"the means to {means} (outside the set's folder, as asked)" in said
    assert json.loads(means.read_text())["build_id"] == report.build_id
    assert sorted(os.listdir(tmp_path / "out")) == [".pyimagesearch.lock", "test.hdf5", "train.hdf5", "val.hdf5"]
    assert check_same_build([report.paths["train"], means]) == report.build_id
    HDF5DatasetGenerator(report.paths["train"], 4, classes=3)  # its siblings' check finds the means


# 4-5. a file that shrinks or changes under an open reader: one line naming it, in every mode

@pytest.fixture
def coded(tmp_path, monkeypatch):
    monkeypatch.setattr(hdf5datasetwriter, "_CHUNK_BYTES", 6 * 6 * 3 * 5)  # 5-row chunks
    path = tmp_path / "coded.hdf5"
    write_coded_hdf5(path, num_rows=40, classes=3)
    # built an hour ago: a write now gets a later time even on a file system whose clock
    # advances in ticks of a few milliseconds (a change within the opening's tick is not seen)
    old = os.stat(path).st_mtime_ns - 3600 * 10 ** 9
    os.utime(path, ns=(old, old))
    return path


@pytest.mark.parametrize("read_path", ["mmap", "h5py"])
@pytest.mark.parametrize("verified", [False, True], ids=["first-pass", "verified"])
def test_a_truncation_inside_the_last_chunk_ends_the_read_in_one_line(coded, read_path, verified):
    gen = HDF5DatasetGenerator(coded, 8, classes=3, read_path=read_path)
    with h5py.File(coded, "r") as db:
        last = max(db["images"].id.get_chunk_info(i).byte_offset for i in range(db["images"].id.get_num_chunks()))
    gen[0]  # the reader is open; its last chunk not yet verified on a first pass
    if verified:
        [gen[i] for i in range(len(gen))]
    os.truncate(coded, last + 40)  # inside the last chunk's rows
    with pytest.raises(OSError, match=r"coded\.hdf5' shrank from \d+ to \d+ bytes while it was read") as caught:
        gen[len(gen) - 1]
    assert isinstance(caught.value, FileChangedError) and "\n" not in str(caught.value)


_TRUNCATE_MID_READ = textwrap.dedent("""
    import os, sys
    from pyimagesearch.io.readpath import chunkreader
    from pyimagesearch.io.readpath.datasetfile import DatasetFile  # the generator's reader, without Keras
    path = sys.argv[1]
    data = DatasetFile(path, classes=3)
    original = chunkreader.crc32
    def truncating(data, value=0):  # the file shrinks between two rows of the batch's first chunk
        os.truncate(path, 4096)
        return original(data, value)
    chunkreader.crc32 = truncating
    try:
        data.read(0, 40)
    except OSError as error:
        print("ERROR", error)
""")


def test_a_truncation_in_the_middle_of_a_batch_is_an_error_not_a_signal(coded, tmp_path):
    script = tmp_path / "truncate.py"
    script.write_text(_TRUNCATE_MID_READ)
    run = subprocess.run([sys.executable, str(script), str(coded)], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert run.returncode == 0, (run.returncode, -signal.SIGBUS, run.stderr[-2000:])
    assert run.stdout.startswith("ERROR ") and "coded.hdf5' shrank from" in run.stdout
    assert run.stdout.count("\n") == 1


@pytest.mark.parametrize("mode", ["keras-threads", "processes"])
def test_a_truncation_under_workers_ends_the_run_in_one_line(coded, mode):
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    gen = HDF5DatasetGenerator(coded, 4, classes=3, workers=2, use_multiprocessing=mode == "processes")
    gen[0]
    os.truncate(coded, 4096)
    adapter = PyDatasetAdapter(gen, shuffle=False)
    with pytest.raises(OSError) as caught:
        for _ in adapter.get_numpy_iterator():
            pass
    adapter.on_epoch_end()  # stops Keras' enqueuer threads, which would ask for more batches
    gen.close()
    assert "coded.hdf5' shrank from" in str(caught.value)


@pytest.mark.parametrize("read_path", ["mmap", "h5py"])
def test_a_file_changed_in_place_fails_the_next_batch(coded, tmp_path, read_path):
    gen = HDF5DatasetGenerator(coded, 8, classes=3, read_path=read_path)
    first = gen[0][0]
    with h5py.File(coded, "r") as db:
        offset = db["images"].id.get_chunk_info(0).byte_offset
    with open(coded, "r+b") as handle:  # 300 bytes flipped, the size kept
        handle.seek(offset)
        original = handle.read(300)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in original))
    with pytest.raises(FileChangedError, match=r"coded\.hdf5' was changed in place"):
        gen[0]
    with open(coded, "r+b") as handle:  # put back, and an hour old again
        handle.seek(offset)
        handle.write(original)
    old = os.stat(coded).st_mtime_ns - 3600 * 10 ** 9
    os.utime(coded, ns=(old, old))
    # a full rewrite in place (another file's rows, the same size) is no different
    other = tmp_path / "other.hdf5"
    write_coded_hdf5(other, num_rows=40, classes=3, seed=5)
    fresh = HDF5DatasetGenerator(coded, 8, classes=3, read_path=read_path)
    fresh[0]
    with open(coded, "r+b") as handle:
        handle.write(other.read_bytes())
        handle.truncate()
    with pytest.raises(OSError, match=r"coded\.hdf5' (was changed in place|shrank)"):
        fresh[1]
    assert first.shape == (8, 6, 6, 3)


def test_a_reader_waits_for_a_writers_hdf5_lock_and_names_the_file_if_it_stays(coded, monkeypatch):
    # a process that holds the file open for writing (HDF5 locks it) and lets go: the reader waits
    from pyimagesearch.io.readpath import datasetfile

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, h5py; f = h5py.File(sys.argv[1], 'r+'); print('held', flush=True); "
        "time.sleep(float(sys.argv[2]))"), str(coded), "1.0"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    gen = HDF5DatasetGenerator(coded, 8, classes=3)  # opened once the holder has ended
    assert holder.wait(10) == 0 and gen[0][0].shape == (8, 6, 6, 3)
    gen.close()
    monkeypatch.setattr(datasetfile, "LOCK_WAIT", 0.5)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, h5py; f = h5py.File(sys.argv[1], 'r+'); print('held', flush=True); "
        "time.sleep(float(sys.argv[2]))"), str(coded), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BlockingIOError, match=r"coded\.hdf5'.*another process has held it locked"):
            HDF5DatasetGenerator(coded, 8, classes=3)
    finally:
        holder.kill()
        holder.wait()
