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
