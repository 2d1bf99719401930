"""`pyimagesearch inspect-model`: layer tables for book and keras.applications networks."""

import re
import subprocess
import sys

import keras
import pytest

from keras.src.utils import file_utils

from pyimagesearch import cli
from pyimagesearch.nn.applications import WeightsUnavailableError


def _offline(fname, origin, **kwargs):
    raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] "
                    "Temporary failure in name resolution")


def _rows(text):
    """(index, name, class) of each table row."""
    return [tuple(line.split()[:3]) for line in text.splitlines()
            if re.match(r"^\s*\d+\s", line)]


@pytest.mark.parametrize("include_top, last_index, last_name", [
    ("1", 22, "predictions"),
    ("0", 18, "block5_pool"),
])
def test_vgg16_lists_the_books_layer_indexes(capsys, monkeypatch, include_top, last_index, last_name):
    # listing layers needs no weights: without --weights nothing is downloaded
    monkeypatch.setattr(file_utils, "get_file", _offline)
    status = cli.main(["inspect-model", "vgg16", "--include-top", include_top])
    out = capsys.readouterr().out
    assert status == 0
    rows = _rows(out)
    assert [int(row[0]) for row in rows] == list(range(last_index + 1))
    assert rows[0][2] == "InputLayer"
    assert rows[1] == ("1", "block1_conv1", "Conv2D")
    assert rows[-1][:2] == (str(last_index), last_name)
    header = out.splitlines()[0].split()
    assert header == ["index", "name", "class", "output", "shape", "params", "trainable"]
    total = "138,357,544" if include_top == "1" else "14,714,688"
    assert f"{total} parameters" in out


def test_book_network_shows_shapes_parameters_and_trainable(capsys):
    assert cli.main(["inspect-model", "LeNet"]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert [row[2] for row in rows][:3] == ["Conv2D", "Activation", "MaxPooling2D"]
    first = out.splitlines()[1]
    assert "(None, 28, 28, 20)" in first and "520" in first and first.endswith("True")
    assert "1,256,080 parameters (1,256,080 trainable, 0 non-trainable)" in out


def test_input_shape_option_rebuilds_at_another_size(capsys):
    assert cli.main(["inspect-model", "MiniGoogLeNet", "--input-shape", "64,48,1"]) == 0
    out = capsys.readouterr().out
    assert "(None, 64, 48, 1)" in out and "(None, 64, 48, 96)" in out
    # the totals name the network asked for (the book's model is called "googlenet")
    assert re.search(r"^minigooglenet: \d+ layers", out, re.MULTILINE)


def test_non_trainable_parameters_are_counted(capsys):
    assert cli.main(["inspect-model", "minivggnet"]) == 0
    out = capsys.readouterr().out
    # each BN holds 2 non-trainable values (moving mean and variance) per channel
    moving = 2 * (32 + 32 + 64 + 64 + 512)
    assert (f"2,171,178 parameters ({2_171_178 - moving:,} trainable, "
            f"{moving:,} non-trainable)") in out


def test_weights_file_is_loaded_into_a_book_network(capsys, tmp_path):
    from pyimagesearch.nn.conv import build_model

    path = tmp_path / "shallownet.weights.h5"
    build_model("shallownet").save_weights(path)
    assert cli.main(["inspect-model", "shallownet", "--weights", str(path)]) == 0
    assert "99,203 parameters" in capsys.readouterr().out


def test_offline_imagenet_weights_fail_with_one_sentence(capsys, monkeypatch):
    monkeypatch.setattr(file_utils, "get_file", _offline)
    status = cli.main(["inspect-model", "vgg16", "--include-top", "0", "--weights", "imagenet"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith("pyimagesearch inspect-model: error: Could not download ImageNet")
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in err
    assert issubclass(WeightsUnavailableError, FileNotFoundError)


@pytest.mark.parametrize("argv, message", [
    (["nosuchnet"], "unknown NAME 'nosuchnet'"),
    (["minivgnet"], "'minivggnet'"),
    (["lenet", "--include-top", "0"], "--include-top 0 applies only"),
    (["lenet", "--weights", "imagenet"], "has no ImageNet weights"),
    (["lenet", "--weights", "missing.weights.h5"], "--weights file not found: 'missing.weights.h5'"),
    (["vgg16", "--weights", "missing.weights.h5"], "weights file not found"),
    (["lenet", "--input-shape", "28,28"], "--input-shape must be three positive"),
    (["lenet", "--input-shape", "a,b,c"], "--input-shape must be three positive"),
    (["lenet", "--input-shape", "0,28,1"], "--input-shape must be three positive"),
    (["lenet", "--input-shape", "28,3,1"], "width=3 is too small"),
])
def test_bad_arguments_give_one_error_line_and_status_2(capsys, argv, message):
    assert cli.main(["inspect-model", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pyimagesearch inspect-model: error: ")
    assert message in err and err.count("\n") == 1


def test_include_top_accepts_only_0_or_1(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["inspect-model", "vgg16", "--include-top", "2"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["inspect-model", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--include-top" in out and "--weights" in out and "keras.applications" in out
    assert keras.backend.backend()  # keras import still works after the CLI ran


def test_mistakes_are_answered_before_tensorflow_loads(tmp_path):
    """A typo in a network name or a bad option is answered without importing Keras or TensorFlow."""
    code = """if True:
        import sys
        from pyimagesearch.cli import main
        for argv in (["inspect-model", "minivgnet"], ["inspect-model", "lenet", "--include-top", "0"],
                     ["inspect-model", "vgg16", "--weights", "missing.h5"],
                     ["inspect-model", "lenet", "--input-shape", "a,b,c"]):
            assert main(argv) == 2, argv
        try:
            main(["demo", "--model", "minivgg", "--output", "OUT"])
        except SystemExit as exit:
            assert exit.code == 2
        loaded = sorted(m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules)
        print("LOADED", loaded)
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LOADED []" in result.stdout
    err = result.stderr
    assert "unknown NAME 'minivgnet'" in err and "'minivggnet'" in err and "'vgg16'" in err
    assert "argument --model: Unknown network --model='minivgg'; expected one of" in err
    assert "'minivggnet'" in err.split("--model='minivgg'")[1]
    assert not (tmp_path / "OUT").exists()
