import io
import os
import random
import re

import cv2
import h5py
import numpy as np
import pytest
from datagen import write_noise_tree

from pyimagesearch import cli
from pyimagesearch.datasets import label_from_parent, list_images


@pytest.fixture
def folder(tmp_path):
    """`{cats,dogs}/{0,1,2}.png`, 40x36 noise (one test adds files)."""
    return write_noise_tree(tmp_path / "animals", ("cats", "dogs"), per_class=3, shape=(40, 36, 3))


def test_cli_writes_the_networks_features(folder, tmp_path, capsys):
    import keras

    output = tmp_path / "features.hdf5"
    keras.utils.set_random_seed(1)
    status = cli.main(["extract-features", "-d", str(folder), "-o", str(output),
                       "--model", "vgg16", "--weights", "none", "--image-size", "32",
                       "-b", "4", "-q"])
    assert status == 0
    captured = capsys.readouterr()  # -q hides the progress bar, not the summary
    assert "Extracting" not in captured.err
    assert f"[INFO] wrote 6 feature vectors of 512 values to {output}" in captured.out

    paths = list_images(folder)
    random.Random(42).shuffle(paths)
    with h5py.File(output, "r") as db:
        features, labels = db["features"][:], db["labels"][:]
        assert list(db["label_names"].asstr()[:]) == ["cats", "dogs"]
    assert features.dtype == np.float32 and features.shape == (6, 512)
    np.testing.assert_array_equal(labels, [label_from_parent(p) == "dogs" for p in paths])

    # the same network, same seed, on the book's input pipeline: load RGB, preprocess_input
    keras.utils.set_random_seed(1)
    network = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    batch = np.stack([
        cv2.cvtColor(cv2.resize(cv2.imread(p), (32, 32), interpolation=cv2.INTER_NEAREST),
                     cv2.COLOR_BGR2RGB).astype("float32") for p in paths
    ])
    expected = network.predict(keras.applications.imagenet_utils.preprocess_input(batch), verbose=0)
    np.testing.assert_allclose(features, expected.reshape(6, -1), rtol=1e-4, atol=1e-5)


def test_cli_errors(folder, tmp_path, capsys):
    output = tmp_path / "f.hdf5"
    base = ["extract-features", "-d", str(folder), "-o", str(output), "--image-size", "32"]
    assert cli.main(base + ["--model", "alexnet", "--weights", "none"]) == 2
    assert "model must be one of" in capsys.readouterr().err
    assert cli.main(base + ["--weights", str(tmp_path / "missing.h5")]) == 2
    assert "weights file not found" in capsys.readouterr().err
    assert cli.main(base + ["--weights", "none", "-b", "0"]) == 2
    assert "batch_size must be a positive integer" in capsys.readouterr().err
    assert not output.exists()
    output.write_bytes(b"keep")
    assert cli.main(base + ["--weights", "none"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert output.read_bytes() == b"keep"


def test_offline_imagenet_is_one_sentence(folder, tmp_path, monkeypatch, capsys):
    from pyimagesearch.nn import applications

    def offline(*args, **kwargs):
        raise applications.WeightsUnavailableError(
            "Could not download ImageNet weights for vgg16 (no network?): fetch "
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 and pass it with --weights PATH."
        )

    monkeypatch.setattr(applications, "build_application", offline)
    status = cli.main(["extract-features", "-d", str(folder), "-o", str(tmp_path / "f.hdf5")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in err and "--weights PATH" in err
    assert not (tmp_path / "f.hdf5").exists()


@pytest.mark.timeout(180)
def test_unreadable_images_are_skipped_and_listed_links_followed_and_pooling(folder, tmp_path, capsys):
    from test_io_safety import _png_declaring

    from pyimagesearch.io import features

    (folder / "dogs" / "broken.jpg").write_bytes(b"junk")
    pipe = folder / "cats" / "pipe.jpg"
    os.mkfifo(pipe)
    (folder / "cats" / "bomb.png").write_bytes(_png_declaring(60000, 60000))
    ok, jpeg = cv2.imencode(".jpg", np.full((32, 32, 3), 200, np.uint8))
    (folder / "dogs" / "truncated.jpg").write_bytes(jpeg.tobytes()[:len(jpeg) // 2])
    outside = tmp_path / "outside.png"
    cv2.imwrite(str(outside), np.zeros((20, 20, 3), np.uint8))
    (folder / "dogs" / "stray.png").symlink_to(outside)
    assert features._load_rgb(str(pipe), 32, None) == (None, "not a regular file")  # given as a path
    output = tmp_path / "f.hdf5"
    status = cli.main(["extract-features", "-d", str(folder), "-o", str(output), "--model", "mobilenetv2",
                       "--weights", "none", "--image-size", "32", "-b", "3", "--pooling", "avg", "-q",
                       "--follow-links"])
    out = capsys.readouterr().out
    assert status == 0
    assert "[INFO] wrote 7 feature vectors" in out  # the 6 images and the followed link
    assert "[INFO] skipped 4 unreadable image(s):" in out
    assert f"  {folder / 'dogs' / 'broken.jpg'}: not a decodable image" in out
    assert f"  {pipe}: not a regular file" in out
    assert f"  {folder / 'cats' / 'bomb.png'}: 60000x60000 pixels, above the limit of 89478485" in out
    assert f"  {folder / 'dogs' / 'truncated.jpg'}: truncated JPEG (no end-of-image marker)" in out
    with h5py.File(output, "r") as db:
        assert db["features"].shape == (7, 1280)
        assert sorted(db["labels"][:]) == [0, 0, 0, 1, 1, 1, 1]


def test_offline_imagenet_is_answered_before_keras_loads(folder, tmp_path, monkeypatch, capsys):
    # no cached weights, a download host that refuses: the answer comes from the
    # path checks, before the features module (Keras, TensorFlow) is imported
    from pyimagesearch.io import features
    from pyimagesearch.nn import applications

    def loaded(*args, **kwargs):
        raise AssertionError("the network was loaded before the weights were checked")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(applications, "WEIGHTS_HOST", ("127.0.0.1", 9))
    monkeypatch.setattr(features, "extract_features", loaded)
    status = cli.main(["extract-features", "-d", str(folder), "-o", str(tmp_path / "f.hdf5"),
                       "--model", "resnet50"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in err
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in err and "--weights PATH" in err
    # a cached file is used without asking the network
    models = tmp_path / "keras" / "models"
    models.mkdir(parents=True)
    (models / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"")
    applications.check_imagenet_weights("resnet50", include_top=False)


def test_extraction_says_what_it_does_before_the_network_loads(folder, tmp_path, capsys):
    from pyimagesearch.io.features import extract_features
    from pyimagesearch.infra.progress import progress_bar

    extract_features(str(folder), tmp_path / "f.hdf5", weights="none", image_size=32, batch_size=4)
    out = capsys.readouterr().out
    assert re.search(r"^\[INFO\] \d+ images of \d+ classes; loading vgg16 \(random weights\)\.\.\.$", out, re.M)
    assert "[INFO] extracting 512 features of each image, 4 images a batch..." in out
    # in a log, a line at each 2% of a long extraction instead of each 10%
    stream = io.StringIO()
    bar = progress_bar("Extracting features: ", 100, stream=stream, log_step=0.02)
    bar.last_time -= 10
    bar.update(2)
    assert stream.getvalue().startswith("Extracting features:   2% (2/100)")
