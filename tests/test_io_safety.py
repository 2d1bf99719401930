"""Data safety: no mixed files or builds, no orphans, no hangs, clear label and checksum errors, one symlink policy."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
from datagen import write_coded_hdf5, write_image_tree

from pyimagesearch import cli
from pyimagesearch.datasets import SimpleDatasetLoader, list_images
from pyimagesearch.io import (HDF5DatasetGenerator, HDF5DatasetWriter, build_hdf5_splits,
                              check_same_build, read_build_id)
from pyimagesearch.infra import atomic, orphans, publish

SPLIT_FILES = ["mean.json", "test.hdf5", "train.hdf5", "val.hdf5"]


def _build(images, out, **kwargs):
    settings = dict(size=8, val_size=3, test_size=3, workers=2, verbose=False)
    return build_hdf5_splits(images, out, **{**settings, **kwargs})


def _contents(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def _dead_pid():
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, timeout=60, check=True)
    return int(child.stdout)


# 1. a generator never serves a file that replaced the one it was built on

@pytest.mark.parametrize("read_path", ["mmap", "h5py"])
@pytest.mark.parametrize("stamped", [True, False], ids=["file-id", "file-identity"])
def test_generator_refuses_a_replaced_file(tmp_path, stamped, read_path):
    path = tmp_path / "train.hdf5"
    write_coded_hdf5(path, num_rows=12, classes=3)
    if not stamped:  # a file from another writer, without ids
        with h5py.File(path, "a") as db:
            del db.attrs["build_id"], db.attrs["file_id"]
    gen = HDF5DatasetGenerator(path, 5, classes=3, read_path=read_path)
    gen[0]
    worker_copy = __import__("pickle").dumps(gen)  # what a new worker process receives
    gen.close()
    write_coded_hdf5(tmp_path / "new.hdf5", num_rows=5, classes=3, seed=1)
    os.replace(tmp_path / "new.hdf5", path)
    with pytest.raises(ValueError, match="train.hdf5.* was replaced"):
        gen[0]
    with pytest.raises(ValueError, match="was replaced"):
        __import__("pickle").loads(worker_copy)[1]


@pytest.mark.parametrize("read_path", ["mmap", "h5py"])
def test_generator_refuses_another_file_of_the_same_build(images, tmp_path, read_path):
    report = _build(images, tmp_path / "out")
    gen = HDF5DatasetGenerator(report.paths["train"], 4, classes=3, read_path=read_path)
    os.replace(report.paths["val"], report.paths["train"])
    with pytest.raises(ValueError, match="train.hdf5.* was replaced"):
        gen[0]


# 2. a split set is one unit

@pytest.fixture
def images(tmp_path):
    write_image_tree(tmp_path / "images", per_class=6, ext="png")
    return tmp_path / "images"


def test_every_file_of_a_set_carries_one_build_id(images, tmp_path):
    report = _build(images, tmp_path / "out")
    files = [*report.paths.values(), report.means_path]
    assert {read_build_id(path) for path in files} == {report.build_id}
    assert check_same_build(files) == report.build_id
    with h5py.File(report.paths["train"], "r") as db:
        assert db["images"].fletcher32 and db["labels"].fletcher32


def test_readers_reject_files_of_two_builds(images, tmp_path):
    first = _build(images, tmp_path / "one")
    _build(images, tmp_path / "two", random_state=7)
    os.replace(tmp_path / "two" / "val.hdf5", first.paths["val"])
    with pytest.raises(ValueError, match="different builds.*val.hdf5"):
        HDF5DatasetGenerator(first.paths["train"], 4, classes=3)
    with pytest.raises(ValueError, match="different builds"):
        check_same_build([first.paths["train"], first.paths["val"]])
    os.remove(first.paths["val"])
    os.replace(tmp_path / "two" / "mean.json", first.means_path)
    with pytest.raises(ValueError, match="different builds.*mean.json"):
        HDF5DatasetGenerator(first.paths["test"], 4, classes=3)


def test_overwrite_removes_splits_the_new_build_lacks(images, tmp_path):
    out = tmp_path / "out"
    _build(images, out)
    os.remove(out / "train.hdf5")
    with pytest.raises(ValueError, match="val.hdf5.* already exists"):  # it would sit beside the new train
        _build(images, out, val_size=0, test_size=0, means_name="other.json")
    report = _build(images, out, val_size=0, test_size=0, overwrite=True, size=4)
    assert sorted(os.listdir(out)) == [".pyimagesearch.lock", "mean.json", "train.hdf5"]  # no val/test of the first build
    HDF5DatasetGenerator(report.paths["train"], 4, classes=3)


def _count_renames(monkeypatch, act, at):
    """Patches `os.replace` to call `act()` just before rename number `at`; returns the targets seen."""
    calls = []
    replace = os.replace

    def counting_replace(source, target):
        calls.append(target)
        if len(calls) == at:
            act()
        replace(source, target)

    monkeypatch.setattr(os, "replace", counting_replace)
    return calls


def _published(out):
    """The set under the real names: its build id (one for all), and nothing else in the folder."""
    assert sorted(os.listdir(out)) == sorted(SPLIT_FILES + [".pyimagesearch.lock"])  # the lock file stays
    return check_same_build([out / name for name in SPLIT_FILES])


def test_a_failure_before_the_commit_point_leaves_the_old_set_whole(images, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _build(images, out)
    before = _contents(out)

    def fail():
        raise OSError("injected failure")

    _count_renames(monkeypatch, fail, at=1)  # the journal's rename, the commit point
    with pytest.raises(OSError, match="injected failure"):
        _build(images, out, overwrite=True, size=6, random_state=3)
    monkeypatch.undo()
    assert _contents(out) == before  # the same files, byte for byte, no temporary, no lock


@pytest.mark.parametrize("failing_rename", [2, 3, 5])
def test_a_failure_after_the_commit_point_is_refused_by_readers_and_finished_by_repair(
        images, tmp_path, monkeypatch, failing_rename):
    out = tmp_path / "out"
    old = _build(images, out)

    def fail():
        raise OSError("injected failure")

    _count_renames(monkeypatch, fail, at=failing_rename)
    with pytest.raises(OSError, match="stopped after its commit point.*next build or `pyimagesearch repair"):
        _build(images, out, overwrite=True, size=6, random_state=3)
    monkeypatch.undo()
    assert ".pyimagesearch.publish" in os.listdir(out)
    atomic.remove_orphans(out)  # never removes the new set's only copy
    before = _contents(out)
    with pytest.raises(publish.UnfinishedPublishError, match="pyimagesearch repair .*out"):
        HDF5DatasetGenerator(out / "val.hdf5", 4, classes=3)  # a reader never completes it
    assert _contents(out) == before
    assert cli.main(["repair", str(out)]) == 0
    new = _published(out)
    assert new != old.build_id
    with h5py.File(out / "train.hdf5", "r") as db:
        assert db["images"].shape[1:] == (6, 6, 3)


@pytest.mark.parametrize("rename", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_any_rename_ends_with_the_new_set_whole(images, tmp_path, monkeypatch, rename, signum):
    out = tmp_path / "out"
    old = _build(images, out)
    calls = _count_renames(monkeypatch, lambda: signal.raise_signal(signum), at=rename)
    # SIGINT raises KeyboardInterrupt only under Python's own handler; a test run started in
    # the background by a non-interactive shell inherits SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):  # delivered once the set is published
            _build(images, out, overwrite=True, size=6, random_state=3)
    finally:
        signal.signal(signal.SIGINT, previous)
    monkeypatch.undo()
    assert len(calls) == 5  # the journal, then train, val, test and the means
    assert _published(out) not in (None, old.build_id)


_KILL_AT_RENAMES = textwrap.dedent("""
    import os, shutil, signal, sys
    import sklearn.model_selection  # imported once, before the forks (the build imports it lazily)
    from pyimagesearch.io import build_hdf5_splits
    images, old, runs = sys.argv[1:4]
    for point in range(1, 7):  # before rename 1 (the journal) ... 5, and 6: before the journal's removal
        out = os.path.join(runs, f"kill{point}")
        shutil.copytree(old, out)
        child = os.fork()
        if child == 0:
            calls = []
            replace, remove = os.replace, os.remove
            def killing(operation, path):
                if os.path.dirname(os.path.abspath(path)) == os.path.abspath(out):
                    calls.append(path)
                    if len(calls) == point:
                        os.kill(os.getpid(), signal.SIGKILL)
            def killing_replace(source, target):
                killing("rename", target)
                replace(source, target)
            def killing_remove(path):
                if os.path.basename(path) == ".pyimagesearch.publish":
                    killing("remove", path)
                remove(path)
            os.replace, os.remove = killing_replace, killing_remove
            build_hdf5_splits(images, out, size=6, val_size=3, test_size=3, workers=1,
                              random_state=3, overwrite=True, verbose=False)
            os._exit(0)
        _, status = os.waitpid(child, 0)
        print(point, os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, flush=True)
""")


@pytest.mark.timeout(240)
def test_sigkill_at_any_rename_leaves_a_set_that_repair_or_the_next_build_makes_whole(images, tmp_path):
    old = _build(images, tmp_path / "old")
    script = tmp_path / "kill_at_renames.py"
    script.write_text(_KILL_AT_RENAMES)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    run = subprocess.run([sys.executable, str(script), str(images), str(tmp_path / "old"), str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=200)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [word for point in range(1, 7) for word in (str(point), "True")]
    found = {}
    for point in range(1, 7):
        out = tmp_path / f"kill{point}"
        leftovers = sorted(name for name in os.listdir(out) if name.startswith("."))
        atomic.remove_orphans(out)  # any write into the folder: never loses the new set's only copy
        if point == 1:  # killed before the commit point: the old set, whole, and the dead build's lock
            assert ".pyimagesearch.publish" not in leftovers and ".pyimagesearch.lock" in leftovers
            assert sorted(name for name in os.listdir(out) if not name.startswith(".")) == SPLIT_FILES
            found[point] = check_same_build([out / name for name in SPLIT_FILES])
            assert found[point] == old.build_id
        else:  # after it: the journal, which readers refuse and `repair` rolls forward
            assert ".pyimagesearch.publish" in leftovers
            with pytest.raises(publish.UnfinishedPublishError, match="pyimagesearch repair"):
                HDF5DatasetGenerator(out / "test.hdf5", 4, classes=3)
            publish.finish_publish(out)
            HDF5DatasetGenerator(out / "test.hdf5", 4, classes=3)
            found[point] = _published(out)
            assert found[point] != old.build_id
    # the next build takes over the dead build's lock and removes its temporaries
    report = _build(images, tmp_path / "kill1", overwrite=True)
    assert _published(tmp_path / "kill1") == report.build_id


def test_publish_refuses_targets_that_appeared_without_overwrite(tmp_path):
    target, temporary = tmp_path / "train.hdf5", tmp_path / ".new.tmp"
    temporary.write_text("new")
    target.write_text("written by a writer that takes no lock")
    with publish.folder_lock(tmp_path):
        with pytest.raises(FileExistsError, match="train.hdf5.* appeared while this build ran"):
            publish.publish_set(tmp_path, [(temporary, target)], overwrite=False)
    assert target.read_text() == "written by a writer that takes no lock"
    assert sorted(os.listdir(tmp_path)) == [".new.tmp", ".pyimagesearch.lock", "train.hdf5"]


# 3. orphans of dead processes are removed, never a live process's

def test_orphans_of_dead_processes_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "epoch_3.keras"
    tag = orphans.host_tag()
    dead = tmp_path / f".epoch_2.keras.{tag}-{_dead_pid()}.abcd1234.tmp.keras"
    live = tmp_path / f".epoch_2.keras.{tag}-{os.getppid()}.abcd1234.tmp.keras"
    other_host = tmp_path / f".epoch_2.keras.000000-{_dead_pid()}.abcd1234.tmp.keras"
    user_file = tmp_path / ".notes.1.tmp"
    for path in (dead, live, other_host, user_file):
        path.write_bytes(b"")
    with atomic.atomic_output(target) as temporary:
        assert f"{tag}-{os.getpid()}." in os.path.basename(temporary)
        open(temporary, "w").close()
    assert sorted(os.listdir(tmp_path)) == sorted(
        [".notes.1.tmp", live.name, other_host.name, "epoch_3.keras"])



def test_one_rule_finds_the_orphans_of_temporaries_and_shared_memory_batches(tmp_path):
    import re

    from pyimagesearch.io import sharedbatch

    tag = orphans.host_tag()
    pattern = re.compile(r"^x-(?P<host>[0-9a-f]{6})-(?P<pid>\d+)$")
    names = {"dead": f"x-{tag}-{_dead_pid()}", "live": f"x-{tag}-{os.getppid()}", "own": f"x-{tag}-{os.getpid()}",
             "other host": f"x-000000-{_dead_pid()}", "not ours": "y-1"}
    for name in names.values():
        (tmp_path / name).write_bytes(b"")
    found = lambda **options: sorted(entry.name for (entry, _) in orphans.orphans(tmp_path, pattern, **options))  # noqa: E731
    assert found() == [names["dead"]]
    assert found(own=True) == sorted([names["dead"], names["own"]])
    assert orphans.orphans(tmp_path / "missing", pattern) == []
    # the /dev/shm sweep goes through the same rule, with the segment's owner as the pid
    assert sharedbatch._SEGMENT.groupindex.keys() >= {"host", "owner"}
    assert atomic._TEMPORARY.groupindex.keys() >= {"host", "pid"}

_SLOW_BUILD = textwrap.dedent("""
    import os, sys, time
    import pyimagesearch.io.build as build
    from pyimagesearch import cli
    load = build._load_image
    def slow(task):
        result = load(task)
        sys.stdout.write(f"loading {os.getpid()}\\n")
        sys.stdout.flush()
        time.sleep(0.3)
        return result
    build._load_image = slow
    sys.exit(cli.main(sys.argv[1:]))
""")


def _start_slow_build(images, out, tmp_path, overwrite=True):
    """Starts a build that decodes one image every 0.3 s; returns it and its Python's pid once it is loading."""
    script = tmp_path / "slow_build.py"
    script.write_text(_SLOW_BUILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.Popen(
        ["timeout", "120", sys.executable, str(script), "build-dataset", "-d", str(images),
         "-o", str(out), "--size", "8", "--val-size", "3", "--test-size", "3",
         "--workers", "2", *(["--overwrite"] if overwrite else []), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    line = child.stdout.readline()
    assert line.startswith("loading "), child.stderr.read()
    return child, int(line.split()[1])


@pytest.mark.timeout(240)
def test_kill_9_keeps_the_old_set_and_the_next_build_removes_the_orphans(images, tmp_path):
    out = tmp_path / "out"
    old = _build(images, out)
    before = {name: data for name, data in _contents(out).items() if not name.startswith(".")}
    child, python = _start_slow_build(images, out, tmp_path)
    assert [name for name in os.listdir(out) if name.startswith(".")]  # its temporaries
    os.kill(python, signal.SIGKILL)
    child.wait(timeout=60)
    child.stdout.close()
    child.stderr.close()
    assert {name: data for name, data in _contents(out).items() if not name.startswith(".")} == before
    check_same_build([*old.paths.values(), old.means_path])
    report = _build(images, out, overwrite=True)
    assert sorted(os.listdir(out)) == sorted(SPLIT_FILES + [".pyimagesearch.lock"])  # the lock file stays
    check_same_build([*report.paths.values(), report.means_path])


@pytest.mark.timeout(240)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_stops_the_build_cleans_up_and_exits_130_or_143(images, tmp_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    child, python = _start_slow_build(images, out, tmp_path)
    os.kill(python, signum)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines() == ["pyimagesearch build-dataset: interrupted"]
    assert os.listdir(out) == [".pyimagesearch.lock"]  # the lock file stays, released


@pytest.mark.timeout(240)
def test_a_second_build_into_the_folder_is_refused_naming_the_first(images, tmp_path, capsys):
    out = tmp_path / "out"
    child, python = _start_slow_build(images, out, tmp_path, overwrite=False)
    args = ["build-dataset", "-d", str(images), "-o", str(out), "--size", "8",
            "--val-size", "3", "--test-size", "3", "-q"]
    for extra in ([], ["--overwrite"]):
        assert cli.main(args + extra) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert (f"{str(out)!r} is in use by another build (pid {python} on host "
                f"{__import__('socket').gethostname()!r}, since ") in err
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    assert "[INFO] wrote train.hdf5" in stdout
    first = _published(out)
    assert cli.main(args) == 2  # after it: its set is there, and stays
    assert "already exists; delete it or pass" in capsys.readouterr().err
    assert _published(out) == first


# 4. only regular files are opened

@pytest.mark.timeout(120)
def test_a_named_pipe_called_jpg_is_skipped_not_opened(images, tmp_path, capsys):
    pipe = images / "cats" / "pipe.jpg"
    os.mkfifo(pipe)
    with pytest.warns(UserWarning, match="left out 1 entry"):
        paths = list_images(images)
    assert str(pipe) not in paths
    paths.append(str(pipe))
    labels = [os.path.basename(os.path.dirname(path)) for path in paths]
    report = _build(paths, tmp_path / "out", labels=labels, test_size=0)
    assert report.skipped == [str(pipe)]
    data, _ = SimpleDatasetLoader().load([str(pipe), paths[0]])
    assert len(data) == 1


def _png_declaring(width, height):
    """A tiny PNG whose header declares `width` x `height` pixels (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


@pytest.fixture
def hostile(images):
    """The images folder plus what a build must skip and list (and never decode or block on)."""
    os.mkfifo(images / "cats" / "pipe.jpg")
    (images / "cats" / "bomb.png").write_bytes(_png_declaring(60000, 60000))
    complete = (images / "dogs" / "dogs_000.png").read_bytes()
    ok, jpeg = __import__("cv2").imencode(".jpg", np.full((32, 32, 3), 200, np.uint8))
    (images / "dogs" / "truncated.jpg").write_bytes(jpeg.tobytes()[:len(jpeg) // 2])
    (images / "dogs" / "album.jpg").mkdir()  # a folder named like an image is not a class
    (images / "dogs" / "album.jpg" / "inner.png").write_bytes(complete)
    (images / "panda" / "a.jpg").symlink_to("b.jpg")  # a link loop
    (images / "panda" / "b.jpg").symlink_to("a.jpg")
    return images


@pytest.mark.timeout(120)
def test_a_build_skips_and_lists_what_it_cannot_read(hostile, tmp_path, capsys):
    with pytest.warns(UserWarning, match="left out 2 link"):
        report = _build(hostile, tmp_path / "out", test_size=0, verbose=True)
    reasons = {os.path.relpath(path, hostile): why for path, why in report.reasons.items()}
    assert reasons == {
        "cats/pipe.jpg": "not a regular file",
        "cats/bomb.png": "60000x60000 pixels, above the limit of 89478485 (max_pixels, --max-pixels)",
        "dogs/truncated.jpg": "truncated JPEG (no end-of-image marker)",
        "dogs/album.jpg": "a folder named like an image",
    }
    assert sorted(report.skipped) == sorted(report.reasons)
    assert report.class_names == ["cats", "dogs", "panda"]
    out = capsys.readouterr().out
    assert f"  {hostile / 'cats' / 'pipe.jpg'}: not a regular file" in out
    assert f"  {hostile / 'dogs' / 'truncated.jpg'}: truncated JPEG" in out
    assert sum(report.counts.values()) == 18


def test_images_above_max_pixels_are_refused_before_decoding(images, tmp_path, monkeypatch):
    from pyimagesearch.datasets import paths as reader

    decoded = []
    imdecode = reader.cv2.imdecode
    monkeypatch.setattr(reader.cv2, "imdecode", lambda *a: decoded.append(1) or imdecode(*a))
    big = images / "cats" / "big.png"
    __import__("cv2").imwrite(str(big), np.zeros((50, 60, 3), np.uint8))
    image, reason = reader.read_image_checked(big, max_pixels=2999)
    assert image is None and reason.startswith("60x50 pixels, above the limit of 2999") and not decoded
    assert reader.read_image_checked(big, max_pixels=3000)[0].shape == (50, 60, 3)
    with pytest.raises(ValueError, match="max_pixels must be a positive integer or None, got 0"):
        _build(images, tmp_path / "o", max_pixels=0)
    report = _build(images, tmp_path / "o", max_pixels=2999)  # the others are 40x32
    assert report.skipped == [str(big)]


def test_an_unreadable_class_folder_is_listed_and_its_class_named(images, tmp_path, monkeypatch, capsys):
    scandir = os.scandir
    denied = {str(images / "dogs")}

    def no_permission(path="."):  # as chmod 000 does for a user other than root
        if os.fspath(path) in denied:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", no_permission)
    report = _build(images, tmp_path / "out", verbose=True)
    dogs = str(images / "dogs")
    assert report.class_names == ["cats", "panda"]
    assert report.reasons == {dogs: "unreadable folder (Permission denied)"}
    assert report.empty_classes == {"dogs": "unreadable folder (Permission denied)"}
    out = capsys.readouterr().out
    assert f"  {dogs}: unreadable folder (Permission denied)" in out
    assert "class 'dogs' lost all its images (unreadable folder (Permission denied))" in out
    denied.add(str(images / "panda"))
    with pytest.raises(ValueError, match="one class .'cats'.*at least two classes.*left out .*dogs"):
        _build(images, tmp_path / "two")


def test_a_class_whose_images_are_all_unreadable_is_named(images, tmp_path, capsys):
    paths = list_images(images)
    labels = [os.path.basename(os.path.dirname(p)) for p in paths]
    for path in paths[:6]:  # every cat
        open(path, "wb").close()
    report = _build(paths, tmp_path / "out", labels=labels, verbose=True)
    assert report.empty_classes == {"cats": "every image unreadable"}
    assert "class 'cats' lost all its images (every image unreadable)" in capsys.readouterr().out


def test_one_class_is_refused_with_one_line(images, tmp_path, capsys):
    only = tmp_path / "smiles"
    os.makedirs(only / "negatives7")
    for path in list_images(images / "cats"):
        os.link(path, only / "negatives7" / os.path.basename(path))
    status = cli.main(["build-dataset", "-d", str(only), "-o", str(tmp_path / "one"), "-q"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "one class ('negatives7'); a classifier needs at least two classes" in err
    assert not (tmp_path / "one").exists()


def test_a_means_path_that_is_a_folder_is_refused_and_cleanup_skips_folders(images, tmp_path, capsys):
    out = tmp_path / "out"
    _build(images, out)
    (out / "keep.json").mkdir()
    (out / "keep.json" / "notes.txt").write_text("mine")
    before = _contents_deep(out)
    status = cli.main(["build-dataset", "-d", str(images), "-o", str(out), "--size", "8",
                       "--val-size", "3", "--test-size", "3", "--overwrite", "--means", "keep.json", "-q"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "keep.json' is a folder; expected a file path" in err
    assert _contents_deep(out) == before
    # what the cleanup cannot safely remove stays: a folder named like a dead process's temporary,
    # and an earlier version's backup, which may be the only copy of a file
    tag = orphans.host_tag()
    stray = out / f".val.hdf5.{tag}-{_dead_pid()}.abcd1234.tmp.old"
    folder = out / f".x.hdf5.{tag}-{_dead_pid()}.abcd1234.tmp.hdf5"
    stray.write_bytes(b"old val")
    folder.mkdir()
    _build(images, out, overwrite=True)
    assert stray.read_bytes() == b"old val" and folder.is_dir()


def _contents_deep(folder):
    return {os.path.relpath(os.path.join(root, name), folder): open(os.path.join(root, name), "rb").read()
            for root, _, names in os.walk(folder) for name in names}


@pytest.mark.timeout(120)
def test_every_reader_of_an_image_folder_skips_a_named_pipe(images, tmp_path):
    pipe = images / "cats" / "pipe.jpg"
    os.mkfifo(pipe)
    with pytest.warns(UserWarning, match="left out 1 entry .*pipe.jpg.*not a regular file"):
        assert str(pipe) not in list_images(images)
    loader = SimpleDatasetLoader()
    data, _ = loader.load([str(pipe), str(images / "cats" / "cats_000.png")])
    assert len(data) == 1 and loader.skipped == [str(pipe)]
    from pyimagesearch.datasets.paths import read_image_checked
    assert read_image_checked(pipe) == (None, "not a regular file")
    assert _build(images, tmp_path / "out").reasons == {str(pipe): "not a regular file"}
    # extract_features: tests/test_io_features.py::test_extract_features_skips_and_lists_what_it_cannot_read


def test_a_flipped_byte_in_the_class_names_is_detected(images, tmp_path):
    report = _build(images, tmp_path / "out")
    path = report.paths["train"]
    data = bytearray(open(path, "rb").read())
    at = data.find(b"panda")
    assert at > 0 and data.find(b"panda", at + 1) < 0  # the names' only copy
    data[at + 1] ^= 0x02  # "pcnda"
    open(path, "wb").write(bytes(data))
    with h5py.File(path, "r") as db:
        assert list(db["label_names"].asstr()[:]) == ["cats", "dogs", "pcnda"]  # HDF5 alone cannot tell
    with pytest.raises(ValueError, match="train.hdf5.* class names .*pcnda.* do not match their checksum"):
        HDF5DatasetGenerator(path, 4, classes=3)


@pytest.mark.timeout(120)
def test_flipped_metadata_bytes_raise_errors_that_name_the_file(tmp_path):
    base = tmp_path / "base.hdf5"
    write_coded_hdf5(base, num_rows=12, classes=3)
    data = open(base, "rb").read()
    found = set()
    for offset in range(0, min(len(data), 3000), 11):  # about 270 flips of the metadata
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        path = tmp_path / f"flip{offset}.hdf5"
        path.write_bytes(bytes(flipped))
        try:
            HDF5DatasetGenerator(path, 4, classes=3).close()
        except (ValueError, OSError) as error:
            assert str(path) in str(error), (offset, error)
            found.add(type(error).__name__)
        os.remove(path)
    assert "OSError" in found


def test_uint64_labels_that_int64_cannot_hold_are_refused(tmp_path):
    with HDF5DatasetWriter((2, 3), tmp_path / "u.hdf5") as writer:
        with pytest.raises(ValueError, match="u.hdf5.* must fit in int64.*9223372036854775813"):
            writer.add(np.zeros((2, 3)), np.array([1, 2**63 + 5], dtype=np.uint64))
        writer.add(np.zeros((2, 3)), np.array([1, 2], dtype=np.uint64))


# 7. labels must be 1-D integers

@pytest.mark.parametrize("labels, found", [
    (np.array([0.0, 1.0, 2.0, 1.0]), "float64"),
    (np.array([0.0, np.nan, 1.0, 1.0]), "float64"),
    (np.array([b"a", b"b", b"a", b"b"]), "S1"),
    (np.zeros((4, 2), "int64"), r"\(4, 2\)"),
])
def test_labels_that_are_not_1d_integers_are_rejected(tmp_path, labels, found):
    path = tmp_path / "bad.hdf5"
    with h5py.File(path, "w") as db:
        db["images"] = np.zeros((4, 3, 3, 3), np.uint8)
        db["labels"] = labels
    with pytest.raises(ValueError, match=f"bad.hdf5.* labels .*{found}.*expected 1-D integers"):
        HDF5DatasetGenerator(path, 2, classes=3)
    with HDF5DatasetWriter((4, 3, 3, 3), tmp_path / "out.hdf5") as writer:
        with pytest.raises(ValueError, match=f"out.hdf5.*{found}"):
            writer.add(np.zeros((4, 3, 3, 3), np.uint8), labels)
        writer.add(np.zeros((4, 3, 3, 3), np.uint8), [0, 1, 2, 1])


# 8. checksums

@pytest.mark.parametrize("read_path", ["mmap", "h5py"])
def test_a_corrupted_chunk_fails_on_read_naming_the_file(tmp_path, read_path):
    path = tmp_path / "data.hdf5"
    write_coded_hdf5(path, num_rows=200, classes=3, size=(16, 16))
    with h5py.File(path, "r") as db:
        assert db["images"].fletcher32 and db["labels"].fletcher32
        chunk = db["images"].id.get_chunk_info(0)
    with open(path, "r+b") as handle:  # before the generator opens it (a change after: test_io_purity)
        handle.seek(chunk.byte_offset + chunk.size // 2 - 2048)
        handle.write(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    gen = HDF5DatasetGenerator(path, 32, classes=3, read_path=read_path)
    with pytest.raises(OSError, match="data.hdf5.*'images'.*corrupted"):
        gen[0]


def test_checksums_can_be_turned_off(images, tmp_path):
    with HDF5DatasetWriter((4, 2), tmp_path / "raw.hdf5", checksum=False) as writer:
        writer.add(np.ones((4, 2)), [0, 1, 0, 1])
    report = _build(images, tmp_path / "out", checksum=False)
    for path in (tmp_path / "raw.hdf5", report.paths["train"]):
        with h5py.File(path, "r") as db:
            assert not db["images"].fletcher32 and not db["labels"].fletcher32


# 10. symbolic links

@pytest.fixture
def linked(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    write_image_tree(root, classes=("cats", "dogs"), per_class=3, ext="png")
    write_image_tree(outside, classes=("birds", "fish"), per_class=3, ext="png")
    (root / "cats" / "stray.png").symlink_to(outside / "birds" / "birds_000.png")
    (root / "fish").symlink_to(outside / "fish")
    (root / "cats_again").symlink_to(root / "cats")  # inside the root: followed, never twice
    (root / "dogs" / "loop").symlink_to(root)
    return root


def test_links_out_of_the_root_are_left_out_by_default(linked):
    with pytest.warns(UserWarning, match="left out 2 link"):
        paths = list_images(linked)
    assert paths == sorted(str(linked / c / f"{c}_{i:03d}.png") for c in ("cats", "dogs") for i in range(3))


def test_follow_links_follows_files_and_folders(linked):
    paths = list_images(linked, follow_links=True)
    assert str(linked / "cats" / "stray.png") in paths
    assert {os.path.basename(os.path.dirname(p)) for p in paths} == {"cats", "dogs", "fish"}
    assert len(paths) == 3 + 3 + 3 + 1


def test_cli_follow_links(linked, tmp_path):
    args = ["build-dataset", "-d", str(linked), "--size", "8", "--val-size", "0", "--test-size", "0", "-q"]
    with pytest.warns(UserWarning, match="link"):
        assert cli.main([*args, "-o", str(tmp_path / "plain")]) == 0
    assert cli.main([*args, "-o", str(tmp_path / "followed"), "--follow-links"]) == 0
    counts = {}
    for name in ("plain", "followed"):
        with h5py.File(tmp_path / name / "train.hdf5", "r") as db:
            counts[name] = (len(db["labels"]), [n.decode() for n in db["label_names"][:]])
    assert counts == {"plain": (6, ["cats", "dogs"]), "followed": (10, ["cats", "dogs", "fish"])}
    assert json.loads((tmp_path / "followed" / "mean.json").read_text())["build_id"]


def test_a_file_that_is_not_hdf5_gets_one_clear_error(tmp_path):
    path = tmp_path / "notes.hdf5"
    path.write_text("not an HDF5 file")
    with pytest.raises(OSError, match="cannot open .*notes.hdf5.* as an HDF5 file"):
        HDF5DatasetGenerator(path, 2, classes=2)
