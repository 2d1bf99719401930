import os

import cv2
import numpy as np
import pytest
from datagen import RunsCode, write_cifar10_dir, write_noise_tree

from pyimagesearch.datasets import SimpleDatasetLoader, label_from_parent, label_from_prefix, list_images
from pyimagesearch.preprocessing import SimplePreprocessor


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Read-only: `{cats,dogs}/{0,1,2}.png` (12x20 noise), a corrupt JPEG and a text file."""
    root = write_noise_tree(tmp_path_factory.mktemp("tree"), ("cats", "dogs"), per_class=3, shape=(12, 20, 3))
    (root / "dogs" / "corrupt.jpg").write_bytes(b"not a jpeg at all")
    (root / "dogs" / "notes.txt").write_text("hello")
    return root


@pytest.fixture(scope="module")
def small_cifar(tmp_path_factory):
    """Read-only: a miniature cifar-10-batches-py (5 x 4 training, 3 test images) and what it holds."""
    folder = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py"
    return folder, write_cifar10_dir(folder, per_batch=4, test_size=3)


def test_list_images_sorted_recursive_by_extension(tree):
    paths = list_images(tree)
    assert paths == sorted(paths)
    assert len(paths) == 7  # 6 PNGs + the corrupt .jpg, not the .txt
    assert not any(p.endswith(".txt") for p in paths)


def test_list_images_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        list_images(tmp_path / "missing")
    (tmp_path / "image.jpg").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="image.jpg' is a file, not a folder"):
        list_images(tmp_path / "image.jpg")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        list_images(tmp_path / "empty")


def test_loader_skips_unreadable_and_reports(tree, capsys):
    loader = SimpleDatasetLoader(preprocessors=[SimplePreprocessor(8, 8)])
    data, labels = loader.load(list_images(tree) + [str(tree / "dogs" / "notes.txt")], verbose=2)
    assert data.shape == (6, 8, 8, 3)
    assert sorted(set(labels)) == ["cats", "dogs"]
    assert list(labels).count("dogs") == 3
    assert len(loader.skipped) == 2
    out = capsys.readouterr().out
    assert "[INFO] processed 2/8" in out
    assert out.count("skipped 2 unreadable") == 1


def test_loader_without_preprocessors(tree):
    data, labels = SimpleDatasetLoader().load(list_images(tree / "cats"))
    assert data.shape == (3, 12, 20, 3) and data.dtype == np.uint8
    assert set(labels) == {"cats"}


def test_labels_from_paths():
    assert label_from_parent("/data/animals/panda/img_1.jpg") == "panda"
    assert label_from_prefix("/kaggle/train/cat.11866.jpg") == "cat"
    with pytest.raises(ValueError, match="no '.'"):
        label_from_prefix("/x/README")


def test_load_cifar10_from_local_folder(small_cifar):
    from pyimagesearch.datasets import load_cifar10

    (folder, written) = small_cifar
    (trainX, trainY), (testX, testY) = load_cifar10(folder)
    assert trainX.shape == (20, 32, 32, 3) and trainX.dtype == np.uint8
    assert testX.shape == (3, 32, 32, 3) and testY.tolist() == written["test_batch"][1]
    np.testing.assert_array_equal(trainX[:4], written["data_batch_1"][0])


def test_load_cifar10_missing_batch(tmp_path):
    from pyimagesearch.datasets import load_cifar10

    with pytest.raises(FileNotFoundError, match="CIFAR-10 folder not found"):
        load_cifar10(tmp_path / "nope")
    (tmp_path / "cifar").mkdir()
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        load_cifar10(tmp_path / "cifar")


def test_load_cifar10_refuses_a_crafted_batch_without_running_it(tmp_path):
    import pickle

    from pyimagesearch.datasets import load_cifar10

    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10_dir(folder, per_batch=2, test_size=2)
    marker = tmp_path / "code-ran"
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({b"data": RunsCode(marker), b"labels": [0]}, handle)
    with pytest.raises(ValueError, match=r"test_batch' is not a CIFAR-10 batch .*posix.mkdir"):
        load_cifar10(folder)
    assert not marker.exists()
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump([1, 2, 3], handle)
    with pytest.raises(ValueError, match="has no data and labels"):
        load_cifar10(folder)


def test_load_cifar10_offline_fails_with_one_sentence(monkeypatch):
    import keras

    from pyimagesearch.datasets import load_cifar10

    def offline():
        raise Exception("URL fetch failure on https://example/cifar-10-python.tar.gz: None -- [Errno -3]")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(FileNotFoundError, match="--cifar-dir"):
        load_cifar10()


def test_write_digits_dataset(tmp_path):
    from pyimagesearch.datasets import write_digits_dataset

    count = write_digits_dataset(str(tmp_path / "digits"), size=16)
    assert count == 1797
    paths = list_images(tmp_path / "digits")
    assert len(paths) == 1797
    assert sorted({label_from_parent(p) for p in paths}) == [str(d) for d in range(10)]
    image = cv2.imread(paths[0])
    assert image.shape == (16, 16, 3)
    with pytest.raises(ValueError, match="not empty"):
        write_digits_dataset(str(tmp_path / "digits"))
    with pytest.raises(ValueError, match="size"):
        write_digits_dataset(str(tmp_path / "other"), size=4)


def test_tiny_imagenet_metadata(tmp_path):
    from pyimagesearch.datasets import read_val_annotations, read_wnids, readable_names

    (tmp_path / "wnids.txt").write_text("n01\nn02\n\nn03\n")
    (tmp_path / "words.txt").write_text("n01\tgoldfish, Carassius auratus\nn02\tcat\nn03\tcat, true cat\n")
    (tmp_path / "val.txt").write_text("val_0.JPEG\tn02\t0\t0\t10\t10\n\nval_1.JPEG\tn01\t1\t1\t5\t5\n")
    assert read_wnids(tmp_path / "wnids.txt") == ["n01", "n02", "n03"]
    assert readable_names(["n01", "n02", "n03", "n09"], tmp_path / "words.txt") == [
        "goldfish", "cat (n02)", "cat (n03)", "n09"]
    assert readable_names(["n01"], tmp_path / "missing.txt") == ["n01"]
    paths, wnids = read_val_annotations(tmp_path / "val.txt", "val/images")
    assert paths == [os.path.join("val/images", "val_0.JPEG"), os.path.join("val/images", "val_1.JPEG")]
    assert wnids == ["n02", "n01"]
    with pytest.raises(FileNotFoundError, match="tiny-imagenet-200"):
        read_wnids(tmp_path / "nope.txt")
    (tmp_path / "bad.txt").write_text("only-one-field\n")
    with pytest.raises(ValueError, match="line 1"):
        read_val_annotations(tmp_path / "bad.txt", "val/images")
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ValueError, match="no validation image"):
        read_val_annotations(tmp_path / "empty.txt", "val/images")


def test_prepare_cifar10_scales_subtracts_mean_and_one_hots(small_cifar):
    from pyimagesearch.datasets import load_cifar10, prepare_cifar10

    (folder, _) = small_cifar
    (rawX, rawY), (rawTestX, _) = load_cifar10(folder)
    (trainX, trainY), (testX, testY) = prepare_cifar10(folder)
    assert trainX.dtype == np.float32 and trainX.max() <= 1.0
    np.testing.assert_allclose(trainX, rawX / 255.0, rtol=1e-6)
    assert trainY.shape == (20, 10) and (trainY.argmax(axis=1) == rawY).all()
    (centredX, _), (centredTestX, _) = prepare_cifar10(folder, subtract_mean=True)
    np.testing.assert_allclose(centredX.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(centredTestX, rawTestX / 255.0 - (rawX / 255.0).mean(axis=0), atol=1e-5)
