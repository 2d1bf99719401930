"""Small synthetic datasets in the real on-disk layouts, and checks of the scripts' outputs, for the tests."""

import json
import os
import pickle
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def class_image(rng, label, size, channels=3):
    """A noisy image whose colour depends on its class, so tiny models can learn it."""
    (width, height) = size
    base = np.zeros((height, width, channels), np.float32)
    base[..., label % channels] = 160 + 20 * (label // channels)
    noise = rng.normal(0, 25, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def noise_image(rng, shape=None):
    """A uniform-noise uint8 image of `shape` (height, width, channels); None draws both sides from [12, 30)."""
    if shape is None:
        shape = (*rng.integers(12, 30, size=2), 3)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def write_noise_tree(root, classes, per_class, shape=None, extensions=(".png",), seed=0):
    """Writes `root/{class}/{i}{extension}` noise images (`noise_image`); returns `root`.

    The extension of image `i` is `extensions[i % len(extensions)]`.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            cv2.imwrite(str(root / name / f"{i}{extensions[i % len(extensions)]}"), noise_image(rng, shape))
    return root


def write_noise_hdf5(path, shape, classes, label_names=None, seed=0, **options):
    """Writes an HDF5 dataset of uniform-noise uint8 images labelled `row % classes`.

    Args:
        path: the file to write.
        shape: the images' shape, rows first, e.g. `(10, 4, 4, 3)`.
        classes: number of classes.
        label_names: class names to store, or None.
        seed: seed of the noise.
        **options: further `HDF5DatasetWriter` arguments (`checksum`, `compression`, ...).

    Returns:
        `(images, labels)`, as written.
    """
    from pyimagesearch.io import HDF5DatasetWriter

    images = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    labels = np.arange(shape[0]) % classes
    with HDF5DatasetWriter(shape, path, **options) as writer:
        writer.add(images, labels)
        if label_names is not None:
            writer.storeClassLabels(label_names)
    return images, labels


class RunsCode:
    """A crafted payload: unpickling it (or a permissive loader) calls `os.mkdir(marker)`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


class SlowScale:
    """Scales images to [0, 1] float32, sleeping `seconds` per batch: workers stay busy, epochs interruptible."""

    def __init__(self, seconds):
        self.seconds = seconds

    def preprocess(self, image):
        return image.astype("float32") / 255.0

    def preprocess_batch(self, images):
        time.sleep(self.seconds)
        return images.astype("float32") / 255.0


def write_image_tree(root, classes=("cats", "dogs", "panda"), per_class=6, size=(40, 32), ext="jpg", seed=0):
    """Writes `root/{class}/{i}.{ext}` images; returns the list of paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for label, name in enumerate(classes):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            path = os.path.join(root, name, f"{name}_{i:03d}.{ext}")
            cv2.imwrite(path, class_image(rng, label, size))
            paths.append(path)
    return paths


def write_kaggle_folder(root, per_class=6, size=(40, 32), seed=0):
    """Writes Kaggle Dogs vs. Cats style `root/cat.N.jpg` and `root/dog.N.jpg`."""
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    paths = []
    for label, name in enumerate(("cat", "dog")):
        for i in range(per_class):
            path = os.path.join(root, f"{name}.{i}.jpg")
            cv2.imwrite(path, class_image(rng, label, size))
            paths.append(path)
    return paths


def write_cifar10_dir(folder, per_batch=10, test_size=10, seed=0):
    """Writes a miniature `cifar-10-batches-py` folder in the real pickle format."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)

    def batch(name, count):
        labels = [int(v) for v in rng.integers(0, 10, count)]
        images = np.stack([class_image(rng, label, (32, 32)) for label in labels])
        data = images.transpose(0, 3, 1, 2).reshape(count, -1)
        content = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"{name}_{i}.png".encode() for i in range(count)],
        }
        with open(os.path.join(folder, name), "wb") as handle:
            pickle.dump(content, handle)
        return images, labels

    written = {f"data_batch_{i}": batch(f"data_batch_{i}", per_batch) for i in range(1, 6)}
    written["test_batch"] = batch("test_batch", test_size)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    with open(os.path.join(folder, "batches.meta"), "wb") as handle:
        pickle.dump({b"label_names": names, b"num_cases_per_batch": per_batch, b"num_vis": 3072}, handle)
    return written


def run_script(script, *args, cwd=None, timeout=600, env=None, check=True):
    """Runs `examples/<script>` with this Python, as from a user's shell, and returns the `CompletedProcess`.

    As from a user's shell: `TF_CPP_MIN_LOG_LEVEL` is not set (the script's
    `configure_process` chooses it), and every run, ending well or not, is
    checked to show none of TensorFlow's start-up lines on stderr.

    Args:
        script: path relative to examples/, e.g. "ch04_rank_accuracy/rank_accuracy.py".
        *args: command-line arguments (converted to str).
        cwd: working folder of the script.
        timeout: seconds before the run is killed.
        env: extra environment variables.
        check: fail the test, showing the output, when the script exits non-zero.
    """
    environment = dict(os.environ, MPLBACKEND="Agg", CUDA_VISIBLE_DEVICES="")
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # conftest.py's, not a user's
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout,
    )
    if check:
        assert result.returncode == 0, f"{script} failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}"
    assert_no_start_up_lines(result.stderr, script)
    return result


# TensorFlow's native start-up lines: absl's notice and its "I0000 00:00:1796.. 9902 port.cc:153] ..."
# lines (oneDNN, "Could not find cuda drivers", the CPU instructions), the failed cuInit probe
START_UP_LINE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] )"
                           r"|cuInit|oneDNN|cuda drivers", re.MULTILINE)


def assert_no_start_up_lines(stderr, script):
    """None of TensorFlow's start-up lines (see `START_UP_LINE`) in a run's stderr."""
    shown = [line for line in stderr.splitlines() if START_UP_LINE.search(line)]
    assert not shown, f"{script} shows TensorFlow's start-up lines on stderr:\n" + "\n".join(shown)


def write_tiny_imagenet(root, wnids=("n01443537", "n01629819", "n01641577", "n01644900"),
                        train_per_class=6, val_per_class=2, size=(32, 32), seed=0):
    """Writes a miniature `tiny-imagenet-200` tree in the real layout.

    `wnids.txt`; `words.txt` (every WordNet id with its names, plus unrelated
    entries, as the real file lists all of WordNet); `train/{wnid}/images/{wnid}_{i}.JPEG`
    with `train/{wnid}/{wnid}_boxes.txt`; `val/images/val_{i}.JPEG` with
    `val/val_annotations.txt` (image, wnid, box); `test/images/test_{i}.JPEG` (unlabelled).

    Returns:
        `{"root": Path, "words": {wnid: names}, "val": [(file name, wnid), ...]}`.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    names = ["goldfish, Carassius auratus", "European fire salamander, Salamandra salamandra",
             "common newt, Triturus vulgaris", "tailed frog, bell toad, ribbed toad",
             "bullfrog, Rana catesbeiana", "American alligator, Alligator mississipiensis"]
    words = {wnid: names[i % len(names)] for (i, wnid) in enumerate(wnids)}
    root.mkdir(parents=True, exist_ok=True)
    (root / "wnids.txt").write_text("".join(f"{wnid}\n" for wnid in wnids))
    entries = [("n00001740", "entity"), *words.items(), ("n99999999", "unrelated synset")]
    (root / "words.txt").write_text("".join(f"{wnid}\t{name}\n" for (wnid, name) in entries))
    (width, height) = size
    for (label, wnid) in enumerate(wnids):
        folder = root / "train" / wnid / "images"
        folder.mkdir(parents=True, exist_ok=True)
        boxes = []
        for i in range(train_per_class):
            cv2.imwrite(str(folder / f"{wnid}_{i}.JPEG"), class_image(rng, label, size))
            boxes.append(f"{wnid}_{i}.JPEG\t0\t0\t{width - 1}\t{height - 1}\n")
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("".join(boxes))
    val_images = root / "val" / "images"
    val_images.mkdir(parents=True, exist_ok=True)
    val = []
    for i in range(val_per_class * len(wnids)):
        label = int(rng.integers(len(wnids))) if i >= len(wnids) else i
        name = f"val_{i}.JPEG"
        cv2.imwrite(str(val_images / name), class_image(rng, label, size))
        val.append((name, wnids[label]))
    (root / "val" / "val_annotations.txt").write_text(
        "".join(f"{name}\t{wnid}\t0\t0\t{width - 1}\t{height - 1}\n" for (name, wnid) in val))
    test_images = root / "test" / "images"
    test_images.mkdir(parents=True, exist_ok=True)
    for i in range(2):
        cv2.imwrite(str(test_images / f"test_{i}.JPEG"), class_image(rng, i % len(wnids), size))
    return {"root": root, "words": words, "val": val}


def assert_fast_documented_help(script):
    """`examples/<script> --help` imports neither TensorFlow nor Keras, and the script has the book's frame.

    Returns:
        The `--help` run (`CompletedProcess`).
    """
    # -X importtime lists every module imported: --help must not pay for TensorFlow
    result = run_script(script, "--help", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.stdout.startswith("usage: ")
    assert "tensorflow" not in result.stderr and "keras" not in result.stderr
    source = (EXAMPLES / script).read_text()
    assert "Practitioner Bundle, chapter" in source and "Usage:" in source
    assert source.rstrip().endswith('if __name__ == "__main__":\n    main()')
    return result


def percentages(stdout, name):
    """Values of every `... {name}: X%` line, in [0, 100]."""
    values = [float(v) for v in re.findall(rf"{re.escape(name)}: (\d+\.\d+)%", stdout)]
    assert all(0.0 <= v <= 100.0 for v in values), values
    return values


def keras_config(path):
    """The `config.json` of a `.keras` archive (no Keras import needed)."""
    assert zipfile.is_zipfile(path), f"{path} is not a .keras archive"
    with zipfile.ZipFile(path) as archive:
        return json.load(archive.open("config.json"))


def output_units(config):
    """Units of the model's last Dense layer (its number of classes)."""
    dense = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]
    return dense[-1]["config"]["units"]


def assert_png(path):
    image = cv2.imread(str(path))
    assert image is not None and image.size > 0, f"{path} is not a readable image"
    return image


def assert_one_line_error(result, *fragments):
    """A failed run that ends with one `[ERROR] ...` sentence and no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("[ERROR] "), result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in last, last
    return last


def assert_report(stdout, names):
    """A scikit-learn classification report with a row for every class name."""
    assert "precision" in stdout and "recall" in stdout
    for name in names:
        assert re.search(rf"^\s*{re.escape(name)}\s+\d", stdout, re.MULTILINE), f"no report row for {name}"


def coded_images(labels, first_row=0, size=(6, 6)):
    """Images whose pixels encode their own label and row number, to catch any mix-up.

    Every pixel of image `i` is `(label, row // 256, row % 256)` with
    `row = first_row + i`: constant images survive resizing, flips, shifts and
    rotations with nearest fill, so the code can be read back after any of them.
    """
    labels = np.asarray(labels)
    rows = first_row + np.arange(len(labels))
    (width, height) = size
    images = np.empty((len(labels), height, width, 3), np.uint8)
    images[..., 0] = labels[:, None, None]
    images[..., 1] = (rows // 256)[:, None, None]
    images[..., 2] = (rows % 256)[:, None, None]
    return images


def decode_images(images):
    """`(labels, rows)` read back from `coded_images` (after any warping)."""
    codes = np.rint(np.median(np.asarray(images, np.float64).reshape(len(images), -1, 3), axis=1)).astype(int)
    return codes[:, 0], codes[:, 1] * 256 + codes[:, 2]


def write_coded_hdf5(path, num_rows=40, classes=4, size=(6, 6), seed=0):
    """Writes an HDF5 dataset of `coded_images` with shuffled labels; returns the labels."""
    from pyimagesearch.io import HDF5DatasetWriter

    labels = np.random.default_rng(seed).integers(0, classes, num_rows)
    with HDF5DatasetWriter((num_rows, size[1], size[0], 3), path, bufSize=7) as writer:
        writer.add(coded_images(labels, size=size), labels)
    return labels


def write_coded_image_tree(root, classes=("a", "b", "c"), per_class=8, size=(10, 8)):
    """Writes `root/{class}/{i}.png` images coded with their class and a unique id; returns the paths."""
    paths = []
    for label, name in enumerate(classes):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            row = label * per_class + i
            path = os.path.join(root, name, f"{row:04d}.png")
            cv2.imwrite(path, coded_images([label], first_row=row, size=size)[0])
            paths.append(path)
    return paths


def write_rows(path, rows):
    """An HDF5 file of `rows` random 16x16 images, row number in pixel (0, 0, 0)."""
    from pyimagesearch.io import HDF5DatasetWriter

    images = np.random.default_rng(0).integers(0, 256, size=(rows, 16, 16, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(rows)
    with HDF5DatasetWriter((rows, 16, 16, 3), path) as writer:
        writer.add(images, np.arange(rows) % 3)
    return path
