import cv2
import numpy as np
import pytest

from pyimagesearch.datasets import SimpleDatasetLoader, label_from_parent, label_from_prefix, list_images
from pyimagesearch.preprocessing import SimplePreprocessor


@pytest.fixture
def tree(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        (tmp_path / label).mkdir()
        for i in range(3):
            cv2.imwrite(str(tmp_path / label / f"{i}.png"), rng.integers(0, 256, (12, 20, 3), dtype=np.uint8))
    (tmp_path / "dogs" / "corrupt.jpg").write_bytes(b"not a jpeg at all")
    (tmp_path / "dogs" / "notes.txt").write_text("hello")
    return tmp_path


def test_list_images_sorted_recursive_by_extension(tree):
    paths = list_images(tree)
    assert paths == sorted(paths)
    assert len(paths) == 7  # 6 PNGs + the corrupt .jpg, not the .txt
    assert not any(p.endswith(".txt") for p in paths)


def test_list_images_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        list_images(tmp_path / "missing")
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
