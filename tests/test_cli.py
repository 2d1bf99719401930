import os
import subprocess
import sys

import pytest

import pyimagesearch
from pyimagesearch.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert pyimagesearch.__version__ in capsys.readouterr().out


def test_help_lists_commands(capsys):
    assert main([]) == 0
    assert "usage: pyimagesearch" in capsys.readouterr().out


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "pyimagesearch", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert "usage: pyimagesearch" in result.stdout


def test_unknown_command_fails(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2


def test_headless_cv2_imports_without_display():
    env = {"PATH": "/usr/bin:/bin", "DISPLAY": ""}
    result = subprocess.run(
        [sys.executable, "-c", "import cv2; print(cv2.__version__)"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_run_main_turns_bad_input_into_one_line(capsys):
    import argparse

    from pyimagesearch.cli import run_main

    parser = argparse.ArgumentParser()
    parser.add_argument("--path")

    def run(args):
        raise FileNotFoundError(f"dataset {args.path!r} not found")

    with pytest.raises(SystemExit) as exit_info:
        run_main(parser, run, ["--path", "/nowhere"])
    assert exit_info.value.code == "[ERROR] dataset '/nowhere' not found"
    assert run_main(parser, lambda args: args.path, ["--path", "x"]) == "x"


# ---------------------------------------------------------------- expected failures: one line, status 2

@pytest.mark.parametrize("error, fragments", [
    (FileExistsError(17, "File exists", "/data/out"), ["'/data/out' already exists", "remove it"]),
    (PermissionError(13, "Permission denied", "/data/out"), ["permission denied for '/data/out'"]),
    (OSError(28, "No space left on device", "/data/out/train.hdf5"),
     ["no space left on the device writing '/data/out/train.hdf5'", "free some space"]),
    (OSError(28, "No space left on device"), ["no space left on the device: free some space"]),
    (OSError(30, "Read-only file system", "/mnt/ro"), ["'/mnt/ro' is on a read-only file system"]),
    (NotADirectoryError(20, "Not a directory", "/data/file/x"), ["'/data/file/x'", "is a file, not a folder"]),
    (IsADirectoryError(21, "Is a directory", "/data"), ["'/data' is a folder"]),
    (FileNotFoundError(2, "No such file or directory", "/none"), ["'/none': no such file or folder"]),
    (OSError(5, "Input/output error", "/disk/x"), ["'/disk/x': Input/output error"]),
    (ValueError("db 'x.hdf5' has no\n 'labels'"), ["db 'x.hdf5' has no 'labels'"]),
])
def test_describe_error_names_the_path_and_what_to_do(error, fragments):
    from pyimagesearch.cli import describe_error

    text = describe_error(error)
    assert "\n" not in text
    for fragment in fragments:
        assert fragment in text, text


def _failing_build(monkeypatch, error):
    import pyimagesearch.commands.build_dataset
    import pyimagesearch.io.build

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(pyimagesearch.io.build, "build_hdf5_splits", fail)
    # the made-up paths below would be refused before the build runs
    monkeypatch.setattr(pyimagesearch.commands.build_dataset, "check_paths", lambda args: None)
    return ["build-dataset", "-d", "images", "-o", "out"]


def test_ctrl_c_is_one_line_and_status_130(monkeypatch, capsys):
    assert main(_failing_build(monkeypatch, KeyboardInterrupt())) == 130
    assert capsys.readouterr().err == "pyimagesearch build-dataset: interrupted\n"


def test_a_real_bug_keeps_its_traceback(monkeypatch):
    with pytest.raises(TypeError, match="a bug"):
        main(_failing_build(monkeypatch, TypeError("a bug")))


def test_output_inside_an_existing_file_is_one_line(tmp_path, capsys):
    from datagen import write_image_tree

    write_image_tree(tmp_path / "images", per_class=3, size=(16, 16))
    blocker = tmp_path / "taken"
    blocker.write_text("keep")
    status = main(["build-dataset", "-d", str(tmp_path / "images"), "-o", str(blocker), "--size", "8",
                   "--val-size", "0", "--test-size", "0", "-q"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"pyimagesearch build-dataset: error: --output {str(blocker)!r} is a file")
    assert blocker.read_text() == "keep"


def test_unwritable_output_folder_is_one_line(tmp_path, capsys, monkeypatch):
    # root ignores file modes, so the refusal a read-only folder gives is mocked
    import tempfile

    from datagen import write_image_tree

    write_image_tree(tmp_path / "images", per_class=3, size=(16, 16))

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", os.path.join(dir, "tmpfile"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    status = main(["build-dataset", "-d", str(tmp_path / "images"), "-o", str(tmp_path / "out"), "--size", "8",
                   "--val-size", "0", "--test-size", "0", "-q"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    # checked before anything is made: the folder that cannot take a file is named
    assert f"error: --output {str(tmp_path / 'out')!r}: cannot write in {str(tmp_path)!r} (Permission denied)" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["write", "close"])
def test_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch, where):
    # h5py reports a failed write as it does on a full disk: errno 28 inside the
    # message, no file name (an OSError from a write, a RuntimeError from close)
    import h5py

    from datagen import write_image_tree

    write_image_tree(tmp_path / "images", per_class=3, size=(16, 16))
    text = ("Can't write data (file write failed: time = now, filename = 'x.tmp.hdf5', file descriptor = 3, "
            "errno = 28, error message = 'No space left on device', buf = 0x1, total write size = 9)")
    if where == "write":
        def fail(self, *args):
            raise OSError(text)
        monkeypatch.setattr(h5py.Dataset, "__setitem__", fail)
    else:
        close = h5py.File.close

        def fail(self):
            close(self)
            raise RuntimeError(text)
        monkeypatch.setattr(h5py.File, "close", fail)
    status = main(["build-dataset", "-d", str(tmp_path / "images"), "-o", str(tmp_path / "out"), "--size", "8",
                   "--val-size", "0", "--test-size", "0", "-q"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert f"no space left on the device writing {str(tmp_path / 'out' / 'train.hdf5')!r}" in err
    assert not list((tmp_path / "out").glob("*.hdf5"))
    assert [path.name for path in (tmp_path / "out").glob(".*")] == [".pyimagesearch.lock"]  # released, stays


def test_really_full_disk_exits_2_without_a_crash(tmp_path):
    """On a real 200 KiB tmpfs (root only): one line and status 2, no segfault from HDF5."""
    from datagen import write_image_tree

    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)],
                             capture_output=True, timeout=30)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        write_image_tree(tmp_path / "images", per_class=20, size=(64, 64))
        result = subprocess.run(
            [sys.executable, "-m", "pyimagesearch", "build-dataset", "-d", str(tmp_path / "images"),
             "-o", str(mount / "out"), "--size", "64", "-q"],
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr[-3000:]
        assert result.stderr.startswith("pyimagesearch build-dataset: error: no space left on the device writing ")
        assert result.stderr.count("\n") == 1, result.stderr[-3000:]
        left = os.listdir(mount / "out") if (mount / "out").exists() else []
        assert not [name for name in left if name.endswith(".hdf5")], left
    finally:
        subprocess.run(["umount", str(mount)], timeout=30)


def test_run_main_turns_os_errors_and_ctrl_c_into_one_line(capsys):
    import argparse

    from pyimagesearch.cli import run_main

    parser = argparse.ArgumentParser()

    def full(args):
        raise OSError(28, "No space left on device", "/out/model.keras")

    with pytest.raises(SystemExit) as exit_info:
        run_main(parser, full, [])
    assert exit_info.value.code.startswith("[ERROR] no space left on the device writing '/out/model.keras'")

    def interrupted(args):
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exit_info:
        run_main(parser, interrupted, [])
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "[INFO] interrupted\n"


def test_build_dataset_max_pixels_reaches_the_reader(tmp_path, capsys):
    from datagen import write_image_tree

    write_image_tree(tmp_path / "images", per_class=3, size=(40, 32))  # 1280 pixels each
    args = ["build-dataset", "-d", str(tmp_path / "images"), "-o", str(tmp_path / "o"), "--size", "8",
            "--val-size", "0", "--test-size", "0", "-q"]
    assert main(args + ["--max-pixels", "0"]) == 2
    assert "max_pixels must be a positive integer or None, got 0" in capsys.readouterr().err
    assert main(args + ["--max-pixels", "1279"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no readable training image" in err
    assert main(args + ["--max-pixels", "1280"]) == 0
