import json
import re

import h5py
import pytest

from pyimagesearch.cli import main
from pyimagesearch.commands.demo import run_demo


def test_demo_runs_end_to_end_and_writes_its_outputs(tmp_path, capsys):
    output = tmp_path / "demo"
    status = main(["demo", "--output", str(output), "--epochs", "1", "--checkpoint-every", "1",
                   "--batch-size", "128"])
    out = capsys.readouterr().out
    assert status == 0
    rows = dict(re.findall(r"^\s+(plain \(resize\)|10-crop over-sampled|5-crop, no mirroring)\s+([\d.]+)%\s+[\d.]+%$",
                           out, re.M))
    assert set(rows) == {"plain (resize)", "10-crop over-sampled", "5-crop, no mirroring"}
    assert "a mirrored digit is\n   another glyph" in out
    assert all(0.0 <= float(value) <= 100.0 for value in rows.values())

    with h5py.File(output / "hdf5" / "train.hdf5") as db:
        assert db["images"].shape[1:] == (32, 32, 3) and db["images"].dtype == "uint8"
        assert [name for name in db["label_names"].asstr()] == [str(d) for d in range(10)]
    sizes = {}
    for split in ("train", "val", "test"):
        with h5py.File(output / "hdf5" / f"{split}.hdf5") as db:
            sizes[split] = len(db["labels"])
    assert sum(sizes.values()) == 1797 and sizes["test"] > sizes["val"] > 0
    assert set(json.loads((output / "hdf5" / "mean.json").read_text())) == {"R", "G", "B", "build_id"}

    history = json.loads((output / "training.json").read_text())
    assert len(history["loss"]) == 1 and "val_accuracy" in history and "learning_rate" in history
    assert (output / "training.png").read_bytes()[:4] == b"\x89PNG"
    assert (output / "checkpoints" / "epoch_1.keras").is_file()
    assert (output / "model.keras").is_file()
    for path in ("training.png", "training.json", "checkpoints", "model.keras"):
        assert str(output / path) in out

    # --resume continues the run from its last checkpoint: epoch 2 of 2, the history continued
    assert main(["demo", "--output", str(output), "--epochs", "2", "--checkpoint-every", "1",
                 "--batch-size", "128", "--resume"]) == 0
    captured = capsys.readouterr()
    assert f"continuing from {output / 'checkpoints' / 'epoch_1.keras'} (epoch 1 of 2)" in captured.out
    assert "building the HDF5 datasets" not in captured.out
    resumed = json.loads((output / "training.json").read_text())
    assert len(resumed["loss"]) == 2 and resumed["loss"][0] == history["loss"][0]
    assert (output / "checkpoints" / "epoch_2.keras").is_file()
    # a run without --resume into the same folder says so and replaces the earlier run quietly
    assert main(["demo", "--output", str(output), "--epochs", "1", "--checkpoint-every", "5",
                 "--batch-size", "128"]) == 0
    captured = capsys.readouterr()
    assert "holds an earlier demo run: starting a new one" in captured.out
    assert "startAt" not in captured.out + captured.err
    assert not (output / "checkpoints" / "epoch_2.keras").exists()
    assert len(json.loads((output / "training.json").read_text())["loss"]) == 1


def test_demo_rejects_unknown_model_before_writing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--output", str(tmp_path / "demo"), "--model", "nosuchnet"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Unknown network --model='nosuchnet'; expected one of" in err and "'minivggnet'" in err
    assert not (tmp_path / "demo").exists()
    with pytest.raises(ValueError, match="expected one of"):
        run_demo(str(tmp_path / "demo"), model="nosuchnet")
    assert not (tmp_path / "demo").exists()


def test_demo_rejects_non_positive_epochs(capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--epochs", "0"])
    assert exit_info.value.code == 2
    assert "must be a positive integer" in capsys.readouterr().err


def test_demo_augmentation_keeps_digits_unmirrored():
    import numpy as np

    from pyimagesearch.commands.demo import digits_augmenter

    aug = digits_augmenter(seed=0)
    assert aug.horizontal_flip is False and aug.rotation_range == 10
    image = np.zeros((1, 32, 32, 3), "uint8")
    image[:, 8:24, 4:8] = 255  # a bar on the left stays on the left
    for _ in range(10):
        out = aug.augment_batch(image)
        assert out[0, :, :16].sum() > out[0, :, 16:].sum()


def test_demo_says_training_diverged_instead_of_printing_a_score(tmp_path, capsys):
    # the issue's `demo --model shallownet --epochs 1` diverged at the default rate; a huge rate always does
    status = main(["demo", "--output", str(tmp_path / "demo"), "--model", "shallownet", "--epochs", "1",
                   "--learning-rate", "100", "--batch-size", "128"])
    captured = capsys.readouterr()
    assert status == 2
    assert "Results" not in captured.out and "rank-1" not in captured.out
    (line,) = [line for line in captured.err.splitlines() if "error:" in line]
    assert "training diverged" in line and "loss is nan after epoch 1" in line and "--learning-rate" in line
