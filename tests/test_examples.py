"""The chapter 2-7 example scripts, run as subprocesses on tiny synthetic data.

Every script runs once on data in the real on-disk layout (class folders, a
miniature cifar-10-batches-py), for 1 epoch at 32x32 with random weights where
the book uses ImageNet weights; the tests check the files it writes and the
metrics it prints. Data, the features file (ch03 -> ch04) and the ensemble
(ch06) are built once per module; `root` and `cifar` come from conftest.py.
"""

import csv
import importlib.util
import json
import re
import subprocess
import sys

import cv2
import h5py
import numpy as np
import pytest
from datagen import (EXAMPLES, assert_fast_documented_help, assert_one_line_error, assert_png, assert_report,
                     keras_config, output_units, percentages, run_script, write_image_tree)

FLOWERS = ("bluebell", "crocus", "daisy", "iris", "sunflower", "tulip")  # > 5: rank-5 shown

SCRIPTS = (
    "ch02_data_augmentation/augmentation_demo.py",
    "ch02_data_augmentation/minivggnet_flowers17.py",
    "ch02_data_augmentation/minivggnet_flowers17_data_aug.py",
    "ch03_feature_extraction/extract_features.py",
    "ch03_feature_extraction/train_model.py",
    "ch04_rank_accuracy/rank_accuracy.py",
    "ch05_fine_tuning/inspect_model.py",
    "ch05_fine_tuning/finetune_flowers17.py",
    "ch06_ensembles/train_models.py",
    "ch06_ensembles/test_ensemble.py",
    "ch07_optimizers/compare_optimizers.py",
)


# ---------------------------------------------------------------- helpers


# ---------------------------------------------------------------- data

@pytest.fixture(scope="module")
def flowers(root):
    """Flowers-17 layout: `flowers17/{class}/{image}.jpg`, 6 classes x 4 images."""
    folder = root / "flowers17"
    write_image_tree(folder, classes=FLOWERS, per_class=4, size=(40, 32))
    return folder


@pytest.fixture(scope="module")
def features(root, flowers):
    """ch03 extract_features.py output (random VGG16 at 32x32: 512 features)."""
    path = root / "hdf5" / "features.hdf5"
    result = run_script("ch03_feature_extraction/extract_features.py",
                        "--dataset", flowers, "--output", path, "--weights", "none",
                        "--image-size", 32, "--batch-size", 8, "--buffer-size", 10)
    return path, result


@pytest.fixture(scope="module")
def classifier(root, features):
    """ch03 train_model.py output: the classifier (a skops file) and the run."""
    path = root / "flowers17.skops"
    result = run_script("ch03_feature_extraction/train_model.py",
                        "--db", features[0], "--model", path, "--jobs", 1)
    return path, result


@pytest.fixture(scope="module")
def ensemble(root, cifar):
    """ch06 train_models.py output: 2 members, 1 epoch each."""
    (output, models) = (root / "ensemble_output", root / "ensemble_models")
    result = run_script("ch06_ensembles/train_models.py",
                        "--output", output, "--models", models, "--num-models", 2,
                        "--cifar-dir", cifar, "--epochs", 1, "--batch-size", 16, "--seed", 1)
    return output, models, result


# ---------------------------------------------------------------- --help

@pytest.mark.parametrize("script", SCRIPTS)
def test_help_is_fast_and_documented(script):
    assert_fast_documented_help(script)


# ---------------------------------------------------------------- chapter 2

def test_augmentation_demo_writes_images_and_montage(root, flowers):
    image = next((flowers / "daisy").iterdir())
    output = root / "augmented"
    result = run_script("ch02_data_augmentation/augmentation_demo.py",
                        "--image", image, "--output", output, "--prefix", "daisy",
                        "--total", 5, "--seed", 3)
    original = cv2.imread(str(image))
    written = sorted(output.glob("daisy_*.jpg"))
    assert len(written) == 5, result.stdout
    augmented = [assert_png(path) for path in written]
    assert all(a.shape == original.shape for a in augmented)
    # the images really are transformed: not all (JPEG-noisy) copies of the input
    assert max(np.abs(a.astype(int) - original).mean() for a in augmented) > 5
    # in the source's colours (the daisies are red: swapped, their mean blue and red trade places)
    (source, saved) = (original.reshape(-1, 3).mean(0), np.mean([a.reshape(-1, 3).mean(0) for a in augmented], 0))
    assert np.abs(saved - source).sum() < np.abs(saved - source[::-1]).sum()
    montage = assert_png(output / "daisy_montage.png")
    (h, w) = original.shape[:2]
    assert montage.shape == (h, 5 * w, 3)
    assert np.abs(montage.reshape(-1, 3).mean(0) - source).sum() < np.abs(montage.reshape(-1, 3).mean(0) - source[::-1]).sum()
    assert "[INFO] generating images..." in result.stdout
    # a second run adds its images beside the first's (Keras' random part in the names)
    run_script("ch02_data_augmentation/augmentation_demo.py", "--image", image, "--output", output,
               "--prefix", "daisy", "--total", 5, "--seed", 3)
    assert len(list(output.glob("daisy_*.jpg"))) == 10


def test_augmentation_demo_unreadable_image(root):
    result = run_script("ch02_data_augmentation/augmentation_demo.py",
                        "--image", root / "missing.jpg", "--output", root / "unused",
                        check=False)
    assert_one_line_error(result, "missing.jpg")
    # the status "The book's way" gives the example scripts (the commands end with 2)
    assert result.returncode == 1
    assert "`[ERROR] ...`, and exit status 1" in " ".join((EXAMPLES.parent / "docs" / "book.md").read_text().split())


@pytest.mark.parametrize("script", ["minivggnet_flowers17.py", "minivggnet_flowers17_data_aug.py"])
def test_minivggnet_flowers17(root, flowers, script):
    stem = script[:-3]
    # the augmented run plots to SVG, whose text (the title) can be read back
    (model, plot) = (root / f"{stem}.keras", root / (f"{stem}.svg" if "data_aug" in script else f"{stem}.png"))
    result = run_script(f"ch02_data_augmentation/{script}", "--dataset", flowers,
                        "--model", model, "--plot", plot, "--epochs", 1,
                        "--batch-size", 8, "--image-size", 32,
                        *(["--seed", 0] if "data_aug" in script else []))
    assert "[INFO] loading images..." in result.stdout
    assert_report(result.stdout, FLOWERS)
    assert len(percentages(result.stdout, "rank-1")) == 1
    assert len(percentages(result.stdout, "rank-5")) == 1
    config = keras_config(model)
    assert output_units(config) == len(FLOWERS)
    assert config["config"]["layers"][0]["config"]["batch_shape"] == [None, 32, 32, 3]
    assert config["compile_config"]["optimizer"]["config"]["learning_rate"] == pytest.approx(0.05)
    if "data_aug" in script:
        # the title names the dataset by its folder, not "Flowers-17" whatever the data
        assert "Training Loss and Accuracy (MiniVGGNet, flowers17, augmented)" in plot.read_text()
    else:
        assert_png(plot)


def test_missing_dataset_is_answered_before_keras_loads(root):
    """Each script checks its data before importing Keras (or TensorFlow), even the training ones.

    Run in one process: after every script has answered its path mistake, neither Keras
    nor TensorFlow is in `sys.modules` (a script that loaded Keras first, quietly or not,
    would have it there).
    """
    code = """if True:
        import runpy, sys
        for script, argv in (
            ("ch02_data_augmentation/augmentation_demo.py", ["--image", "no-such-folder/a.png", "--output", "o"]),
            ("ch02_data_augmentation/minivggnet_flowers17.py", ["--dataset", "no-such-folder"]),
            ("ch02_data_augmentation/minivggnet_flowers17_data_aug.py", ["--dataset", "no-such-folder"]),
            ("ch05_fine_tuning/finetune_flowers17.py", ["--dataset", "no-such-folder", "--model", "m.keras"]),
            ("ch03_feature_extraction/extract_features.py", ["--dataset", "no-such-folder", "--output", "f.hdf5"]),
            ("ch06_ensembles/train_models.py", ["--cifar-dir", "no-such-folder", "--output", "o", "--models", "m"]),
            ("ch06_ensembles/test_ensemble.py", ["--cifar-dir", "no-such-folder", "--models", "no-such-folder"]),
            ("ch07_optimizers/compare_optimizers.py", ["--cifar-dir", "no-such-folder", "--output", "o"]),
        ):
            path = f"{EXAMPLES}/{script}"
            sys.path.insert(0, path.rsplit("/", 1)[0])
            sys.argv = [path, *argv]
            try:
                runpy.run_path(path, run_name="__main__")
            except SystemExit as exit:
                print(script, exit.code)
        print("LOADED", sorted(m for m in ("keras", "tensorflow") if m in sys.modules))
    """.replace("{EXAMPLES}", str(EXAMPLES))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("[ERROR] image folder not found: 'no-such-folder'") == 4, result.stdout
    assert result.stdout.count("no-such-folder") == 8, result.stdout
    assert "LOADED []" in result.stdout


# ---------------------------------------------------------------- chapters 3 and 4

def test_extract_features_writes_hdf5(features):
    (path, result) = features
    with h5py.File(path, "r") as db:
        assert db["features"].shape == (len(FLOWERS) * 4, 512)
        assert db["features"].dtype == np.float32
        labels = db["labels"][:]
        names = [n.decode() if isinstance(n, bytes) else n for n in db["label_names"][:]]
    assert names == list(FLOWERS)
    assert sorted(np.bincount(labels, minlength=len(FLOWERS))) == [4] * len(FLOWERS)
    assert not np.array_equal(labels, np.sort(labels)), "rows are not shuffled"
    assert f"{len(FLOWERS) * 4} images, {len(FLOWERS)} classes" in result.stdout


def test_extract_features_refuses_to_overwrite(features, flowers):
    result = run_script("ch03_feature_extraction/extract_features.py",
                        "--dataset", flowers, "--output", features[0], "--weights", "none",
                        "--image-size", 32, check=False)
    assert_one_line_error(result, "already exists")


def test_train_model_reports_and_pickles(classifier):
    (path, result) = classifier
    assert path.is_file() and path.stat().st_size > 0
    assert "[INFO] best hyperparameters: {'C':" in result.stdout
    assert_report(result.stdout, FLOWERS)
    assert len(percentages(result.stdout, "rank-1")) == 1


def test_rank_accuracy_matches_train_model(features, classifier):
    result = run_script("ch04_rank_accuracy/rank_accuracy.py",
                        "--db", features[0], "--model", classifier[0])
    (rank1,) = percentages(result.stdout, "rank-1")
    (rank5,) = percentages(result.stdout, "rank-5")
    assert rank5 >= rank1
    # same model, same test rows: train_model.py's accuracy is this rank-1
    assert percentages(classifier[1].stdout, "rank-1") == [rank1]


def test_rank_accuracy_reads_the_books_pickle_only_with_trust_pickle(features, root):
    import pickle

    from sklearn.linear_model import LogisticRegression

    with h5py.File(features[0], "r") as db:
        split = int(len(db["labels"]) * 0.75)
        model = LogisticRegression(max_iter=200).fit(db["features"][:split], db["labels"][:split])
    with open(root / "book.cpickle", "wb") as handle:
        pickle.dump(model, handle)
    refused = run_script("ch04_rank_accuracy/rank_accuracy.py",
                         "--db", features[0], "--model", root / "book.cpickle", check=False)
    assert_one_line_error(refused, "book.cpickle' is a pickle", "--trust-pickle")
    trusted = run_script("ch04_rank_accuracy/rank_accuracy.py",
                         "--db", features[0], "--model", root / "book.cpickle", "--trust-pickle")
    assert len(percentages(trusted.stdout, "rank-1")) == 1
    assert len(percentages(trusted.stdout, "rank-5")) == 1  # six classes: rank-5 shown


def test_rank_accuracy_missing_model(features, root):
    result = run_script("ch04_rank_accuracy/rank_accuracy.py",
                        "--db", features[0], "--model", root / "none.cpickle", check=False)
    assert_one_line_error(result, "none.cpickle")


# ---------------------------------------------------------------- chapter 5

@pytest.mark.parametrize(("include_top", "layers"), [(0, 19), (1, 23)])
def test_inspect_model(include_top, layers):
    result = run_script("ch05_fine_tuning/inspect_model.py",
                        "--include-top", include_top, "--weights", "none")
    rows = re.findall(r"^\[INFO\] (\d+)\t(\w+)\t(\w+)$", result.stdout, re.MULTILINE)
    assert [int(i) for (i, _, _) in rows] == list(range(layers))
    assert rows[15][1:] == ("Conv2D", "block5_conv1")
    assert rows[-1][2] == ("predictions" if include_top else "block5_pool")


def test_inspect_model_missing_weights(root):
    result = run_script("ch05_fine_tuning/inspect_model.py", "--include-top", 0,
                        "--weights", root / "vgg16.h5", check=False)
    assert_one_line_error(result, "vgg16.h5")


def test_finetune_flowers17(root, flowers):
    model = root / "flowers17_finetuned.keras"
    result = run_script("ch05_fine_tuning/finetune_flowers17.py",
                        "--dataset", flowers, "--model", model, "--weights", "none",
                        "--image-size", 32, "--warmup-epochs", 1, "--epochs", 1,
                        "--batch-size", 8, "--seed", 0)
    out = result.stdout
    assert out.index("evaluating after initialization") < out.index("evaluating after fine-tuning")
    assert len(percentages(out, "rank-1")) == 2 and len(percentages(out, "rank-5")) == 2
    assert_report(out, FLOWERS)
    config = keras_config(model)
    assert output_units(config) == len(FLOWERS)
    trainable = {layer["config"]["name"]: layer["config"].get("trainable")
                 for layer in config["config"]["layers"]}
    # network surgery: blocks 1-4 stay frozen, block 5 and the new head train
    assert not any(trainable[f"block{b}_pool"] for b in range(1, 5))
    assert trainable["block4_conv3"] is False
    assert all(trainable[name] for name in ("block5_conv1", "block5_conv3", "block5_pool"))
    assert config["compile_config"]["optimizer"]["class_name"] == "SGD"
    assert_png(root / "flowers17_finetuned.png")


# ---------------------------------------------------------------- chapter 6

def test_train_models_writes_members(ensemble):
    (output, models, result) = ensemble
    for i in range(2):
        config = keras_config(models / f"model_{i}.keras")
        assert output_units(config) == 10
        optimizer = config["compile_config"]["optimizer"]
        assert optimizer["class_name"] == "SGD"
        assert optimizer["config"]["momentum"] == pytest.approx(0.9)
        assert optimizer["config"]["nesterov"] is True
        schedule = optimizer["config"]["learning_rate"]
        # the book's decay=0.01 / epochs, here with 1 epoch
        assert schedule["class_name"] == "InverseTimeDecay"
        assert schedule["config"]["initial_learning_rate"] == pytest.approx(0.01)
        assert schedule["config"]["decay_rate"] == pytest.approx(0.01)
        report = (output / f"model_{i}.txt").read_text()
        assert_report(report, ("airplane", "truck"))
        assert len(percentages(report, "rank-1")) == 1
        assert_png(output / f"model_{i}.png")
    assert len(percentages(result.stdout, "rank-1")) == 2


def test_test_ensemble(ensemble, cifar):
    result = run_script("ch06_ensembles/test_ensemble.py",
                        "--models", ensemble[1], "--cifar-dir", cifar, "--batch-size", 4)
    out = result.stdout
    assert len(percentages(out, "model_0.keras rank-1")) == 1
    assert len(percentages(out, "model_1.keras rank-1")) == 1
    assert_report(out, ("airplane", "automobile", "truck"))
    assert len(percentages(out, "rank-1")) == 3  # two members, the ensemble
    assert len(percentages(out, "rank-5")) == 1


def test_test_ensemble_without_models(root, cifar):
    empty = root / "no_models"
    empty.mkdir()
    result = run_script("ch06_ensembles/test_ensemble.py", "--models", empty,
                        "--cifar-dir", cifar, check=False)
    assert_one_line_error(result, "model_*.keras")


def test_missing_cifar_dir_is_one_clear_line(root):
    result = run_script("ch06_ensembles/train_models.py", "--output", root / "x",
                        "--models", root / "y", "--cifar-dir", "/missing", check=False)
    assert_one_line_error(result, "/missing", "cifar-10-batches-py")


# ---------------------------------------------------------------- chapter 7

def test_compare_optimizers(root, cifar):
    output = root / "optimizers"
    chosen = ("sgd_nesterov", "adam", "adadelta")
    result = run_script("ch07_optimizers/compare_optimizers.py", "--output", output,
                        "--cifar-dir", cifar, "--subset", 16, "--epochs", 2,
                        "--batch-size", 8, "--optimizers", *chosen)
    with open(output / "optimizers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["optimizer"] for row in rows] == list(chosen)
    # identical starting points
    assert len({row["initial_weights_sha1"] for row in rows}) == 1
    for row in rows:
        assert 0.0 <= float(row["val_accuracy"]) <= 1.0
        assert np.isfinite(float(row["val_loss"]))
        assert row["optimizer"] in result.stdout
    report = json.loads((output / "optimizers.json").read_text())
    assert report["settings"]["train_images"] == 16
    assert report["settings"]["validation_images"] == 10
    for name in chosen:
        assert len(report["histories"][name]["val_loss"]) == 2
        assert len(report["histories"][name]["val_accuracy"]) == 2
    # the CSV's figures are the last epoch of each history
    assert float(rows[1]["val_loss"]) == pytest.approx(report["histories"]["adam"]["val_loss"][-1])
    assert_png(output / "optimizers.png")


def test_compare_optimizers_builds_every_book_optimizer():
    keras = pytest.importorskip("keras")
    spec = importlib.util.spec_from_file_location(
        "compare_optimizers", EXAMPLES / "ch07_optimizers" / "compare_optimizers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.OPTIMIZERS) == {"sgd", "sgd_nesterov", "rmsprop", "adam", "nadam",
                                      "adagrad", "adadelta"}
    for (class_name, kwargs, _) in module.OPTIMIZERS.values():
        optimizer = getattr(keras.optimizers, class_name)(**kwargs)
        assert float(optimizer.learning_rate) == pytest.approx(kwargs["learning_rate"])
