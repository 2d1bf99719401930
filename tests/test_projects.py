"""The chapter 9-12 projects (Dogs vs. Cats, GoogLeNet, ResNet), run as subprocesses.

Every script runs on tiny synthetic data in the real on-disk layouts (a Kaggle
folder of cat.N.jpg/dog.N.jpg, a miniature tiny-imagenet-200 tree, a miniature
cifar-10-batches-py), with the config modules' paths, split sizes and image
sizes set through their environment variables, 1-2 epochs, small networks
(--stages/--filters for ResNet, random weights for ResNet50). The ctrl + c
method is exercised: train, stop, resume from a checkpoint with a new learning
rate, and the history and checkpoints continue. `--strategy mirrored` (one CPU
replica) and `--mixed-precision` each run once. The HDF5 files and trained
models are built once per module and shared by the scripts that consume them;
`root` and `cifar` come from conftest.py.
"""

import json
import re
import subprocess
import sys

import cv2
import h5py
import numpy as np
import pytest
from datagen import (EXAMPLES, assert_fast_documented_help, assert_one_line_error, assert_png, assert_report,
                     keras_config, output_units, percentages, run_script, write_kaggle_folder, write_tiny_imagenet)

SCRIPTS = (
    "ch09_ch10_dogs_vs_cats/build_dogs_vs_cats.py",
    "ch09_ch10_dogs_vs_cats/train_alexnet.py",
    "ch09_ch10_dogs_vs_cats/crop_accuracy.py",
    "ch09_ch10_dogs_vs_cats/extract_features.py",
    "ch09_ch10_dogs_vs_cats/train_model.py",
    "ch11_googlenet/googlenet_cifar10.py",
    "ch11_googlenet/deepergooglenet/build_tiny_imagenet.py",
    "ch11_googlenet/deepergooglenet/train.py",
    "ch11_googlenet/deepergooglenet/rank_accuracy.py",
    "ch12_resnet/resnet_cifar10.py",
    "ch12_resnet/resnet_cifar10_decay.py",
    "ch12_resnet/resnet_tinyimagenet/train.py",
    "ch12_resnet/resnet_tinyimagenet/train_decay.py",
    "ch12_resnet/resnet_tinyimagenet/rank_accuracy.py",
)
TRAINING_SCRIPTS = [s for s in SCRIPTS if re.search(r"(train(_alexnet|_decay)?|cifar10(_decay)?)\.py$", s)
                    and not s.endswith("train_model.py")]

DOGS = ("cat", "dog")
DOGS_PER_CLASS = 8
# the config's sizes, shrunk: 64x64 images, 57x57 patches and crops (AlexNet's smallest)
DOGS_SIZES = {"DOGS_VS_CATS_VAL_PER_CLASS": "2", "DOGS_VS_CATS_TEST_PER_CLASS": "2",
              "DOGS_VS_CATS_IMAGE_SIZE": "64", "DOGS_VS_CATS_CROP_SIZE": "57"}

# six classes, so that rank-5 is reported
WNIDS = ("n01443537", "n01629819", "n01641577", "n01644900", "n01698640", "n01742172")
TINY_TRAIN_PER_CLASS = 5
TINY_SIZES = {"TINY_IMAGENET_NUM_CLASSES": str(len(WNIDS)), "TINY_IMAGENET_TEST_PER_CLASS": "2",
              "TINY_IMAGENET_IMAGE_SIZE": "32"}
TINY_RESNET = ("--stages", 1, 1, 1, "--filters", 8, 8, 16, 32)
CIFAR_RESNET = ("--stages", 1, 1, 1, "--filters", 8, 8, 16, 32)


# ---------------------------------------------------------------- helpers


def layers_of(config):
    return config["config"]["layers"]


def input_shape(config):
    first = layers_of(config)[0]["config"]
    return first.get("batch_shape") or first.get("batch_input_shape")


def optimizer_of(config):
    return config["compile_config"]["optimizer"]


def history(path):
    with open(path) as f:
        return json.load(f)


def split(path):
    """(images, labels, label_names) of an HDF5 file written by the builders."""
    with h5py.File(path, "r") as db:
        names = [n.decode() if isinstance(n, bytes) else n for n in db["label_names"][:]]
        return db["images"][:], db["labels"][:], names


# ---------------------------------------------------------------- data

@pytest.fixture(scope="module")
def dogs_env(root):
    """A Kaggle `train/` folder of cat.N.jpg and dog.N.jpg, and the config's environment.

    The paths are relative, as in the examples README, and every script runs in
    `root`, a folder outside the repository: the reader's way.
    """
    dataset = root / "kaggle_dogs_vs_cats"
    write_kaggle_folder(dataset / "train", per_class=DOGS_PER_CLASS, size=(72, 60))
    return {"DOGS_VS_CATS_ROOT": "kaggle_dogs_vs_cats", "DOGS_VS_CATS_OUTPUT": "dogs_output",
            **DOGS_SIZES}


@pytest.fixture(scope="module")
def dogs_hdf5(root, dogs_env):
    """build_dogs_vs_cats.py's run."""
    return run_script("ch09_ch10_dogs_vs_cats/build_dogs_vs_cats.py", "--workers", 1,
                      cwd=root, env=dogs_env)


@pytest.fixture(scope="module")
def alexnet(root, dogs_env, dogs_hdf5):
    """train_alexnet.py's run: 1 epoch."""
    return run_script("ch09_ch10_dogs_vs_cats/train_alexnet.py", "--epochs", 1,
                      "--batch-size", 4, "--seed", 1, cwd=root, env=dogs_env)


@pytest.fixture(scope="module")
def dogs_features(root, dogs_env):
    """extract_features.py's run: random ResNet50 at 32x32."""
    return run_script("ch09_ch10_dogs_vs_cats/extract_features.py", "--weights", "none",
                      "--image-size", 32, "--batch-size", 8, cwd=root, env=dogs_env)


@pytest.fixture(scope="module")
def tiny_env(root):
    """A miniature tiny-imagenet-200 tree, and the config's environment (relative
    paths, the scripts run in `root`)."""
    tree = write_tiny_imagenet(root / "tiny-imagenet-200", wnids=WNIDS,
                               train_per_class=TINY_TRAIN_PER_CLASS, val_per_class=2,
                               size=(32, 32))
    env = {"TINY_IMAGENET_ROOT": "tiny-imagenet-200", "TINY_IMAGENET_OUTPUT": "tiny_output",
           **TINY_SIZES}
    return env, tree


@pytest.fixture(scope="module")
def tiny_hdf5(root, tiny_env):
    """build_tiny_imagenet.py's run."""
    return run_script("ch11_googlenet/deepergooglenet/build_tiny_imagenet.py", "--workers", 1,
                      cwd=root, env=tiny_env[0])


@pytest.fixture(scope="module")
def deepergooglenet(root, tiny_env, tiny_hdf5):
    """The ctrl + c method: 2 epochs (a checkpoint every epoch), then a restart from
    epoch 1 with lr 1e-4 for 2 more epochs (start epoch read from the file name)."""
    env = tiny_env[0]
    script = "ch11_googlenet/deepergooglenet/train.py"
    checkpoints = root / "tiny_output" / "deepergooglenet_checkpoints"
    jsonPath = root / "tiny_output" / "deepergooglenet_tinyimagenet.json"
    # 32x32 images: below the book's 4x4 average pool's smallest input (49x49)
    first = run_script(script, "--epochs", 2, "--every", 1, "--batch-size", 8, "--seed", 1,
                       "--pooling", "global", cwd=root, env=env)
    firstHistory = history(jsonPath)
    firstCheckpoints = sorted(p.name for p in checkpoints.iterdir())
    resumed = run_script(script, "--model", checkpoints / "epoch_1.keras", "--lr", 1e-4,
                         "--epochs", 2, "--batch-size", 8, "--seed", 1, cwd=root, env=env)
    return {"first": first, "first_history": firstHistory, "first_checkpoints": firstCheckpoints,
            "resumed": resumed, "history": history(jsonPath), "checkpoints": checkpoints}


@pytest.fixture(scope="module")
def resnet_cifar10(root, cifar):
    """The ctrl + c method on CIFAR-10: 2 epochs, then a restart from epoch 2 with
    lr 1e-2 (--start-epoch given) for 1 epoch."""
    script = "ch12_resnet/resnet_cifar10.py"
    (checkpoints, output) = (root / "resnet_checkpoints", root / "resnet_output")
    common = ("--checkpoints", checkpoints, "--output", output, "--cifar-dir", cifar,
              "--batch-size", 16, "--seed", 1)
    first = run_script(script, *common, "--epochs", 2, "--every", 2, *CIFAR_RESNET, cwd=root)
    firstHistory = history(output / "resnet56_cifar10.json")
    resumed = run_script(script, *common, "--model", checkpoints / "epoch_2.keras",
                         "--start-epoch", 2, "--lr", 1e-2, "--epochs", 1, cwd=root)
    return {"first": first, "first_history": firstHistory, "resumed": resumed,
            "history": history(output / "resnet56_cifar10.json"), "checkpoints": checkpoints}


@pytest.fixture(scope="module")
def resnet_tiny_decay(root, tiny_env, tiny_hdf5):
    """resnet_tinyimagenet/train_decay.py's run: 2 epochs of linear decay."""
    return run_script("ch12_resnet/resnet_tinyimagenet/train_decay.py", "--epochs", 2,
                      "--batch-size", 8, "--seed", 1, *TINY_RESNET, cwd=root, env=tiny_env[0])


# ---------------------------------------------------------------- --help

@pytest.mark.parametrize("script", SCRIPTS)
def test_help_is_fast_and_documented(script):
    result = assert_fast_documented_help(script)
    if "build_" in script:  # the builders decode images in threads
        assert "image decoding threads" in result.stdout and "processes" not in result.stdout
    if script in TRAINING_SCRIPTS:
        assert "--mixed-precision" in result.stdout and "--strategy {none,mirrored,multiworker}" in result.stdout
        assert "--coordinator HOST:PORT" in result.stdout and "--process-id I" in result.stdout


@pytest.mark.parametrize("script", ["ch12_resnet/resnet_cifar10.py",
                                    "ch12_resnet/resnet_tinyimagenet/train.py"])
def test_shared_modules_import_from_any_working_directory(script, tmp_path):
    # the examples/ modules (cifar10_common, tinyimagenet_common, settings) are found
    # from the repository root, the script's own folder and an unrelated folder
    for cwd in (EXAMPLES.parent, (EXAMPLES / script).parent, tmp_path):
        assert run_script(script, "--help", cwd=cwd).stdout.startswith("usage: ")
    # a bad setting still ends in one line, from any folder
    bad = run_script(script, "--help", cwd=tmp_path, check=False,
                     env={"TINY_IMAGENET_IMAGE_SIZE": "x"})
    if "tinyimagenet" in script:
        assert_one_line_error(bad, "TINY_IMAGENET_IMAGE_SIZE")


def test_every_training_script_takes_the_gpu_switches():
    assert len(TRAINING_SCRIPTS) == 7
    # TensorFlow and JAX are imported in one place only: pyimagesearch/distribute/
    for script in SCRIPTS:
        source = (EXAMPLES / script).read_text()
        assert not re.search(r"\b(import|from) (tensorflow|jax)\b", source)  # tensorflow_start_up_filtered is not
        if script in TRAINING_SCRIPTS:
            assert "sys.path.insert" not in source or "tinyimagenet_common" in source
            assert "from pyimagesearch.distribute import add_gpu_arguments, configure_from_args" in source
    assert not (EXAMPLES / "distribute.py").exists()


# ---------------------------------------------------------------- chapters 9 and 10: Dogs vs. Cats

def test_build_dogs_vs_cats(root, dogs_env, dogs_hdf5):
    hdf5 = root / "kaggle_dogs_vs_cats" / "hdf5"
    counts = {}
    for name in ("train", "val", "test"):
        (images, labels, names) = split(hdf5 / f"{name}.hdf5")
        assert names == list(DOGS)
        assert images.dtype == np.uint8 and images.shape[1:] == (64, 64, 3)
        counts[name] = np.bincount(labels, minlength=2).tolist()
        assert f"[INFO] {name}: {len(labels)} images" in dogs_hdf5.stdout
    # stratified: 2 per class held out for validation and for testing, the rest trains
    assert counts == {"train": [4, 4], "val": [2, 2], "test": [2, 2]}
    # the means are the training images' RGB means (stored BGR)
    means = json.loads((hdf5 / "dogs_vs_cats_mean.json").read_text())
    (train, _, _) = split(hdf5 / "train.hdf5")
    bgr = train.reshape(-1, 3).mean(axis=0)
    assert [means["B"], means["G"], means["R"]] == pytest.approx(bgr.tolist(), abs=1e-6)


def test_build_dogs_vs_cats_refuses_to_overwrite(root, dogs_env, dogs_hdf5):
    result = run_script("ch09_ch10_dogs_vs_cats/build_dogs_vs_cats.py", "--workers", 1,
                        cwd=root, env=dogs_env, check=False)
    assert_one_line_error(result, "already exists", "--overwrite")


def test_build_dogs_vs_cats_too_small_a_set_is_said_in_the_configs_words(root, dogs_env, tmp_path):
    # 16 images cannot hold out 2 x 2 validation and 2 x 8 test images
    env = dict(dogs_env, DOGS_VS_CATS_TEST_PER_CLASS="8", DOGS_VS_CATS_HDF5=str(tmp_path / "hdf5"))
    result = run_script("ch09_ch10_dogs_vs_cats/build_dogs_vs_cats.py", cwd=root, env=env, check=False)
    assert_one_line_error(result, "holds 16 images", "DOGS_VS_CATS_TEST_PER_CLASS=8", "DOGS_VS_CATS_VAL_PER_CLASS=2")
    assert "test_size" not in result.stderr and not (tmp_path / "hdf5").exists()


def test_train_alexnet_before_build_is_one_clear_line(root, dogs_env):
    env = dict(dogs_env, DOGS_VS_CATS_ROOT=str(root / "no_such_dataset"))
    result = run_script("ch09_ch10_dogs_vs_cats/train_alexnet.py", cwd=root, env=env, check=False)
    assert_one_line_error(result, "train.hdf5", "build_dogs_vs_cats.py")


def test_bad_config_environment_is_one_clear_line(root, dogs_env):
    env = dict(dogs_env, DOGS_VS_CATS_CROP_SIZE="big")
    result = run_script("ch09_ch10_dogs_vs_cats/crop_accuracy.py", cwd=root, env=env, check=False)
    assert_one_line_error(result, "DOGS_VS_CATS_CROP_SIZE")


def test_train_alexnet(root, alexnet):
    output = root / "dogs_output"
    config = keras_config(output / "alexnet_dogs_vs_cats.keras")
    assert output_units(config) == 2
    assert input_shape(config) == [None, 57, 57, 3]
    optimizer = optimizer_of(config)
    assert optimizer["class_name"] == "Adam"
    assert optimizer["config"]["learning_rate"] == pytest.approx(1e-3)
    assert config["compile_config"]["loss"] == "binary_crossentropy"
    record = history(output / "alexnet_dogs_vs_cats.json")
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert len(record[key]) == 1 and np.isfinite(record[key][0])
    assert_png(output / "alexnet_dogs_vs_cats.png")
    assert "strategy: none, 1 replica(s), global batch size 4" in alexnet.stdout


def test_crop_accuracy(root, dogs_env, alexnet):
    result = run_script("ch09_ch10_dogs_vs_cats/crop_accuracy.py", "--batch-size", 8,
                        cwd=root, env=dogs_env)
    out = result.stdout
    assert out.index("(no crops)") < out.index("(with crops)")
    (plain, crops) = percentages(out, "rank-1")
    # 4 test images: every accuracy is a multiple of 25%
    assert plain % 25 == 0 and crops % 25 == 0
    assert_report(out, DOGS)
    assert not percentages(out, "rank-5")  # two classes: rank-5 is meaningless
    # written to a file or a pipe: Keras' one line per run, no bar, no terminal codes
    assert "\x1b[" not in out + result.stderr and "\u2501" not in out + result.stderr


def test_crop_accuracy_missing_model(root, dogs_env, dogs_hdf5):
    result = run_script("ch09_ch10_dogs_vs_cats/crop_accuracy.py", "--model", root / "none.keras",
                        cwd=root, env=dogs_env, check=False)
    assert_one_line_error(result, "none.keras")


def test_extract_features_resnet50(root, dogs_features):
    with h5py.File(root / "kaggle_dogs_vs_cats" / "hdf5" / "features.hdf5", "r") as db:
        assert db["features"].shape == (2 * DOGS_PER_CLASS, 2048)
        assert db["features"].dtype == np.float32
        labels = db["labels"][:]
        names = [n.decode() if isinstance(n, bytes) else n for n in db["label_names"][:]]
    assert names == list(DOGS)
    assert np.bincount(labels).tolist() == [DOGS_PER_CLASS, DOGS_PER_CLASS]
    assert not np.array_equal(labels, np.sort(labels)), "rows are not shuffled"
    assert "16 images, 2048 features each, 2 classes: cat, dog" in dogs_features.stdout


def test_train_model_prints_full_precision_score(root, dogs_env, dogs_features):
    result = run_script("ch09_ch10_dogs_vs_cats/train_model.py", "--jobs", 1,
                        cwd=root, env=dogs_env)
    out = result.stdout
    assert re.search(r"best hyperparameters: \{'C': (0\.0001|0\.001|0\.01|0\.1|1\.0)\}", out)
    assert_report(out, DOGS)
    score = float(re.search(r"\[INFO\] score: ([0-9.e-]+)$", out, re.MULTILINE).group(1))
    (rank1,) = percentages(out, "rank-1")
    assert rank1 == pytest.approx(round(score * 100, 2))
    assert (root / "dogs_output" / "dogs_vs_cats.skops").stat().st_size > 0
    assert "[WARNING] the solver stopped" not in out and "ConvergenceWarning" not in result.stderr


def test_train_model_says_in_one_line_that_the_solver_stopped(root, dogs_env, dogs_features, tmp_path):
    result = run_script("ch09_ch10_dogs_vs_cats/train_model.py", "--jobs", 1, "--max-iter", 1,
                        "--model", tmp_path / "m.skops", cwd=root, env=dogs_env)
    lines = [line for line in result.stdout.splitlines() if "max_iter=1 " in line]
    assert len(lines) == 1 and lines[0].startswith("[WARNING] the solver stopped") and "--max-iter" in lines[0]
    assert "ConvergenceWarning" not in result.stderr


# ---------------------------------------------------------------- chapter 11: GoogLeNet

def test_googlenet_cifar10_mirrored(root, cifar):
    (model, output) = (root / "minigooglenet.keras", root / "googlenet_output")
    result = run_script("ch11_googlenet/googlenet_cifar10.py", "--model", model, "--output", output,
                        "--cifar-dir", cifar, "--epochs", 2, "--batch-size", 16, "--seed", 1,
                        "--strategy", "mirrored", cwd=root)
    out = result.stdout
    assert "strategy: mirrored, 1 replica(s), global batch size 16 (16 per replica)" in out
    assert_report(out, ("airplane", "truck"))
    assert len(percentages(out, "rank-1")) == 1 and len(percentages(out, "rank-5")) == 1
    config = keras_config(model)
    assert output_units(config) == 10
    assert optimizer_of(config)["config"]["momentum"] == pytest.approx(0.9)
    # PolynomialDecay, power 1: 5e-3 at epoch 0, half of it at epoch 1 of 2
    record = history(output / "minigooglenet_cifar10.json")
    assert record["learning_rate"] == pytest.approx([5e-3, 2.5e-3])
    assert len(record["val_loss"]) == 2
    assert_png(output / "minigooglenet_cifar10.png")


def test_missing_cifar_dir_is_one_clear_line(root):
    result = run_script("ch11_googlenet/googlenet_cifar10.py", "--model", root / "x.keras",
                        "--output", root / "x", "--cifar-dir", "/missing", check=False)
    assert_one_line_error(result, "/missing", "cifar-10-batches-py")


def test_multiworker_on_tensorflow_is_one_clear_line(root, cifar):
    result = run_script("ch12_resnet/resnet_cifar10_decay.py", "--model", root / "x.keras",
                        "--output", root / "x", "--cifar-dir", cifar, "--strategy", "multiworker",
                        "--coordinator", "localhost:1", "--num-processes", 2, "--process-id", 1,
                        check=False)
    assert_one_line_error(result, "KERAS_BACKEND=jax", "keras-team/keras/issues/20585")


def test_multiworker_without_cluster_is_one_clear_line(root, cifar):
    result = run_script("ch12_resnet/resnet_cifar10_decay.py", "--model", root / "x.keras",
                        "--output", root / "x", "--cifar-dir", cifar, "--strategy", "multiworker",
                        env={"KERAS_BACKEND": "jax"}, check=False)
    assert_one_line_error(result, "--coordinator HOST:PORT")


def test_missing_data_is_answered_before_keras_loads(tmp_path):
    """Every chapter 9-12 script that trains or predicts checks its files before importing Keras.

    Run in one process, in an empty folder (none of the configs' files exist): after
    each script has answered, neither Keras nor TensorFlow is in `sys.modules`.
    """
    code = """if True:
        import runpy, sys
        for script, argv in (
            ("ch09_ch10_dogs_vs_cats/train_alexnet.py", []),
            ("ch09_ch10_dogs_vs_cats/crop_accuracy.py", []),
            ("ch09_ch10_dogs_vs_cats/extract_features.py", []),
            ("ch11_googlenet/googlenet_cifar10.py", ["--cifar-dir", "missing", "--model", "m.keras", "--output", "o"]),
            ("ch11_googlenet/deepergooglenet/train.py", []),
            ("ch11_googlenet/deepergooglenet/rank_accuracy.py", []),
            ("ch12_resnet/resnet_cifar10.py", ["--cifar-dir", "missing", "--checkpoints", "c", "--output", "o"]),
            ("ch12_resnet/resnet_cifar10_decay.py", ["--cifar-dir", "missing", "--model", "m.keras", "--output", "o"]),
            ("ch12_resnet/resnet_tinyimagenet/train.py", []),
            ("ch12_resnet/resnet_tinyimagenet/train_decay.py", []),
            ("ch12_resnet/resnet_tinyimagenet/rank_accuracy.py", []),
        ):
            for name in [m for m in sys.modules if m.split(".")[0] in ("config", "settings", "cifar10_common",
                                                                       "tinyimagenet_common", "_examples_path")]:
                del sys.modules[name]  # each project has its own config package
            path = f"{EXAMPLES}/{script}"
            sys.path.insert(0, path.rsplit("/", 1)[0])
            sys.argv = [path, *argv]
            try:
                runpy.run_path(path, run_name="__main__")
            except SystemExit as exit:
                print(script, "->", exit.code)
            sys.path.pop(0)
        print("LOADED", sorted(m for m in ("keras", "tensorflow") if m in sys.modules))
    """.replace("{EXAMPLES}", str(EXAMPLES))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = [line for line in result.stdout.splitlines() if " -> [ERROR] " in line]
    assert len(answers) == 11, result.stdout + result.stderr[-3000:]
    assert "LOADED []" in result.stdout, result.stdout


def test_build_tiny_imagenet(root, tiny_env, tiny_hdf5):
    (env, tree) = tiny_env
    hdf5 = root / "tiny-imagenet-200" / "hdf5"
    encode = {wnid: i for (i, wnid) in enumerate(sorted(WNIDS))}
    (train, trainLabels, names) = split(hdf5 / "train.hdf5")
    assert names == sorted(WNIDS)
    assert train.dtype == np.uint8 and train.shape[1:] == (32, 32, 3)
    (_, testLabels, testNames) = split(hdf5 / "test.hdf5")
    assert testNames == names
    # a stratified test split of 2 per class taken from train/
    assert np.bincount(testLabels).tolist() == [2] * len(WNIDS)
    assert np.bincount(trainLabels).tolist() == [TINY_TRAIN_PER_CLASS - 2] * len(WNIDS)
    # val/ in val_annotations.txt order, labelled by its WordNet ids
    (val, valLabels, valNames) = split(hdf5 / "val.hdf5")
    assert valNames == names
    assert valLabels.tolist() == [encode[wnid] for (_, wnid) in tree["val"]]
    image = cv2.imread(str(tree["root"] / "val" / "images" / tree["val"][0][0]))
    assert np.array_equal(val[0], image)
    means = json.loads((hdf5 / "tiny-image-net-200-mean.json").read_text())
    bgr = train.reshape(-1, 3).mean(axis=0)
    assert [means["B"], means["G"], means["R"]] == pytest.approx(bgr.tolist(), abs=1e-6)
    assert f"[INFO] val: {len(tree['val'])} images" in tiny_hdf5.stdout
    # a small set's test split is said out loud: 2 of 5 per class, where the book takes 50 of 500
    train_images = TINY_TRAIN_PER_CLASS * len(WNIDS)
    assert (f"[INFO] test split: 2 images per class (TINY_IMAGENET_TEST_PER_CLASS) of train/'s "
            f"{train_images} images: 40%") in tiny_hdf5.stdout
    assert "[WARNING] the test split takes 40% of the training images, where the book's takes 10%" \
        in tiny_hdf5.stdout


def test_build_tiny_imagenet_checks_the_class_count(root, tiny_env, tmp_path):
    env = dict(tiny_env[0], TINY_IMAGENET_NUM_CLASSES="200", TINY_IMAGENET_HDF5=str(tmp_path))
    result = run_script("ch11_googlenet/deepergooglenet/build_tiny_imagenet.py", cwd=root,
                        env=env, check=False)
    assert_one_line_error(result, "NUM_CLASSES=200", "TINY_IMAGENET_NUM_CLASSES")
    assert not list(tmp_path.iterdir())


def test_build_tiny_imagenet_unknown_val_wnid(root, tmp_path):
    tree = write_tiny_imagenet(tmp_path / "tiny-imagenet-200", wnids=WNIDS[:2],
                               train_per_class=3, val_per_class=1)
    annotations = tree["root"] / "val" / "val_annotations.txt"
    annotations.write_text(annotations.read_text() + "val_0.JPEG\tn09999999\t0\t0\t1\t1\n")
    env = {"TINY_IMAGENET_ROOT": str(tree["root"]), "TINY_IMAGENET_NUM_CLASSES": "2",
           "TINY_IMAGENET_TEST_PER_CLASS": "1", "TINY_IMAGENET_IMAGE_SIZE": "32"}
    result = run_script("ch11_googlenet/deepergooglenet/build_tiny_imagenet.py", cwd=root,
                        env=env, check=False)
    assert_one_line_error(result, "n09999999", "val_annotations.txt")
    assert not (tree["root"] / "hdf5").exists() or not list((tree["root"] / "hdf5").iterdir())


def test_deepergooglenet_ctrl_c(deepergooglenet):
    run = deepergooglenet
    # the first run: a checkpoint every epoch, Adam at 1e-3
    assert run["first_checkpoints"] == [".pyimagesearch.lock", "epoch_1.keras", "epoch_2.keras"]
    assert "[INFO] learning rate: 0.001" in run["first"].stdout
    assert len(run["first_history"]["loss"]) == 2
    # the restart: epoch 1's checkpoint, the new learning rate, epochs 2 and 3
    out = run["resumed"].stdout
    assert "(epoch 1)" in out
    assert "[INFO] old learning rate: 0.001" in out
    assert "[INFO] new learning rate: 0.0001" in out
    assert "[INFO] training epochs 2 to 3" in out and "Epoch 3/3" in out
    # the history is cut at the start epoch and continues from there
    record = run["history"]
    assert len(record["loss"]) == 3
    assert record["loss"][0] == run["first_history"]["loss"][0]
    assert record["loss"][1] != run["first_history"]["loss"][1]
    # the run's last epoch is saved too, with the new rate in its optimizer
    config = keras_config(run["checkpoints"] / "epoch_3.keras")
    assert optimizer_of(config)["class_name"] == "Adam"
    assert optimizer_of(config)["config"]["learning_rate"] == pytest.approx(1e-4)
    assert output_units(config) == len(WNIDS)
    assert input_shape(config) == [None, 32, 32, 3]
    assert_png(run["checkpoints"].parent / "deepergooglenet_tinyimagenet.png")


def test_deepergooglenet_rank_accuracy(root, tiny_env, deepergooglenet):
    (env, tree) = tiny_env
    result = run_script("ch11_googlenet/deepergooglenet/rank_accuracy.py", "--model",
                        deepergooglenet["checkpoints"] / "epoch_3.keras", cwd=root, env=env)
    out = result.stdout
    # human-readable names from words.txt, in label order
    assert_report(out, [tree["words"][wnid].split(",")[0] for wnid in sorted(WNIDS)])
    (rank1,) = percentages(out, "rank-1")
    (rank5,) = percentages(out, "rank-5")
    assert rank5 >= rank1


def test_resume_needs_an_epoch(root, tiny_env, tiny_hdf5, tmp_path):
    model = tmp_path / "best.keras"
    model.write_bytes(b"")
    result = run_script("ch11_googlenet/deepergooglenet/train.py", "--model", model,
                        cwd=root, env=tiny_env[0], check=False)
    assert_one_line_error(result, "best.keras", "--start-epoch")


def test_resume_from_the_books_hdf5_name_beside_a_keras_checkpoint(root, tiny_env, tiny_hdf5,
                                                                   tmp_path):
    (tmp_path / "epoch_25.keras").write_bytes(b"")
    result = run_script("ch12_resnet/resnet_tinyimagenet/train.py", "--model",
                        tmp_path / "epoch_25.hdf5", cwd=root, env=tiny_env[0], check=False)
    assert_one_line_error(result, "epoch_25.hdf5", "epoch_25.keras' exists")


def test_rank_accuracy_missing_model(root, tiny_env, tiny_hdf5):
    result = run_script("ch11_googlenet/deepergooglenet/rank_accuracy.py", cwd=root,
                        env=tiny_env[0], check=False)
    assert_one_line_error(result, "epoch_70.keras")


# ---------------------------------------------------------------- chapter 12: ResNet

def test_resnet_cifar10_ctrl_c(resnet_cifar10):
    run = resnet_cifar10
    assert "[INFO] learning rate: 0.1" in run["first"].stdout
    out = run["resumed"].stdout
    assert "[INFO] old learning rate: 0.1" in out and "[INFO] new learning rate: 0.01" in out
    assert "[INFO] training epochs 3 to 3" in out and "Epoch 3/3" in out
    record = run["history"]
    assert len(record["loss"]) == 3
    assert record["loss"][:2] == run["first_history"]["loss"]
    # checkpoints: every 2 epochs (epoch 2), then the resumed run's last epoch
    assert sorted(p.name for p in run["checkpoints"].iterdir()) == [".pyimagesearch.lock", "epoch_2.keras",
                                                                     "epoch_3.keras"]
    config = keras_config(run["checkpoints"] / "epoch_3.keras")
    assert optimizer_of(config)["class_name"] == "SGD"
    assert optimizer_of(config)["config"]["learning_rate"] == pytest.approx(1e-2)
    assert output_units(config) == 10
    for result in (run["first"], run["resumed"]):
        assert_report(result.stdout, ("airplane", "truck"))
        assert len(percentages(result.stdout, "rank-5")) == 1


def test_resnet_cifar10_decay_mixed_precision(root, cifar):
    (model, output) = (root / "resnet_decay.keras", root / "resnet_decay_output")
    result = run_script("ch12_resnet/resnet_cifar10_decay.py", "--model", model, "--output", output,
                        "--cifar-dir", cifar, "--epochs", 2, "--batch-size", 16, "--seed", 1,
                        *CIFAR_RESNET, "--mixed-precision", cwd=root)
    assert "precision: mixed_float16" in result.stdout
    assert len(percentages(result.stdout, "rank-1")) == 1
    record = history(output / "resnet_cifar10_decay.json")
    assert record["learning_rate"] == pytest.approx([0.1, 0.05])
    assert all(np.isfinite(record["loss"]))
    config = keras_config(model)
    policies = [layer["config"]["dtype"]["config"]["name"] for layer in layers_of(config)
                if isinstance(layer["config"].get("dtype"), dict)]
    # float16 compute everywhere but the softmax, which stays float32
    assert policies[-1] == "float32" and layers_of(config)[-1]["class_name"] == "Activation"
    assert set(policies[:-1]) == {"mixed_float16"}
    assert optimizer_of(config)["config"]["momentum"] == pytest.approx(0.9)
    assert_png(output / "resnet_cifar10_decay.png")


def test_resnet_tinyimagenet_train(root, tiny_env, tiny_hdf5):
    result = run_script("ch12_resnet/resnet_tinyimagenet/train.py", "--epochs", 1, "--every", 1,
                        "--batch-size", 8, "--seed", 1, *TINY_RESNET, cwd=root, env=tiny_env[0])
    assert "[INFO] learning rate: 0.1" in result.stdout
    output = root / "tiny_output"
    config = keras_config(output / "resnet_checkpoints" / "epoch_1.keras")
    assert output_units(config) == len(WNIDS)
    # the Tiny ImageNet stem: 5x5 CONV, zero padding, max pooling
    classes = [layer["class_name"] for layer in layers_of(config)]
    assert "ZeroPadding2D" in classes and "MaxPooling2D" in classes
    assert optimizer_of(config)["config"]["momentum"] == pytest.approx(0.9)
    assert len(history(output / "resnet_tinyimagenet.json")["loss"]) == 1
    assert_png(output / "resnet_tinyimagenet.png")


def test_resnet_tinyimagenet_train_decay(root, resnet_tiny_decay):
    output = root / "tiny_output"
    record = history(output / "resnet_tinyimagenet_decay.json")
    assert record["learning_rate"] == pytest.approx([0.1, 0.05])
    assert output_units(keras_config(output / "resnet_tinyimagenet.keras")) == len(WNIDS)
    assert_png(output / "resnet_tinyimagenet_decay.png")


def test_resnet_tinyimagenet_rank_accuracy(root, tiny_env, resnet_tiny_decay):
    (env, tree) = tiny_env
    result = run_script("ch12_resnet/resnet_tinyimagenet/rank_accuracy.py", cwd=root, env=env)
    assert_report(result.stdout, [tree["words"][wnid].split(",")[0] for wnid in sorted(WNIDS)])
    (rank1,) = percentages(result.stdout, "rank-1")
    (rank5,) = percentages(result.stdout, "rank-5")
    assert rank5 >= rank1
