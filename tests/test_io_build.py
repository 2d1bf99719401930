import json
import os

import cv2
import h5py
import numpy as np
import pytest
from datagen import noise_image, write_kaggle_folder, write_noise_tree

from pyimagesearch import cli
from pyimagesearch.io import BuildReport, build_hdf5_splits, labelled_images
from pyimagesearch.preprocessing import AspectAwarePreprocessor


@pytest.fixture
def folder(tmp_path):
    """3 classes of 5 images (JPEG and PNG, varied sizes) plus a corrupt file (some tests change it)."""
    root = write_noise_tree(tmp_path / "images", ("cats", "dogs", "pandas"), per_class=5,
                            extensions=(".jpg", ".png"))
    (root / "dogs" / "broken.jpg").write_bytes(b"not a jpeg")
    return root


def _read(path):
    with h5py.File(path, "r") as db:
        return db["images"][:], db["labels"][:], list(db["label_names"].asstr()[:])


def test_build_splits_skips_corrupt_files(folder, tmp_path, capsys):
    out = tmp_path / "out"
    report = build_hdf5_splits(folder, out, size=8, val_size=3, test_size=3, workers=2)
    assert report.skipped == [str(folder / "dogs" / "broken.jpg")]
    captured = capsys.readouterr()
    assert "skipped 1 unreadable image(s)" in captured.out
    assert "Building train: 100%" in captured.err  # the progress bar
    assert sorted(os.listdir(out)) == [".pyimagesearch.lock", "mean.json", "test.hdf5", "train.hdf5", "val.hdf5"]
    total = 0
    for name in ("train", "val", "test"):
        images, labels, names = _read(out / f"{name}.hdf5")
        assert images.dtype == np.uint8 and images.shape[1:] == (8, 8, 3)
        assert names == ["cats", "dogs", "pandas"]
        assert len(labels) == report.counts[name]
        total += len(labels)
    assert total == 15
    for name in ("val", "test"):
        _, labels, _ = _read(out / f"{name}.hdf5")
        assert sorted(labels) == [0, 1, 2]  # stratified, one per class

    train, _, _ = _read(out / "train.hdf5")
    with open(out / "mean.json") as handle:
        means = json.load(handle)
    per_image = train.reshape(len(train), -1, 3).mean(axis=1).mean(axis=0)  # the book's way
    np.testing.assert_allclose([means["B"], means["G"], means["R"]], per_image, rtol=1e-9)
    assert means == {**report.means, "build_id": report.build_id}


def test_rows_match_the_images_and_do_not_depend_on_workers(folder, tmp_path):
    from pyimagesearch.preprocessing import AspectAwarePreprocessor

    one = build_hdf5_splits(folder, tmp_path / "a", size=(10, 6), val_size=0, test_size=0.2,
                            workers=1, verbose=False)
    two = build_hdf5_splits(folder, tmp_path / "b", size=(10, 6), val_size=0, test_size=0.2,
                            workers=2, verbose=False)
    assert sorted(one.paths) == ["test", "train"]
    for name in ("train", "test"):
        a, la, _ = _read(one.paths[name])
        b, lb, _ = _read(two.paths[name])
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)
        assert a.shape[1:] == (6, 10, 3)
    aap = AspectAwarePreprocessor(10, 6)
    expected = {aap.preprocess(cv2.imread(p)).tobytes() for p in labelled_images(folder)[0]
                if cv2.imread(p) is not None}
    train, _, _ = _read(one.paths["train"])
    test, _, _ = _read(one.paths["test"])
    assert {row.tobytes() for row in np.concatenate([train, test])} == expected


def test_explicit_paths_and_labels(folder, tmp_path):
    paths = sorted(str(p) for p in folder.glob("*/*.png"))
    labels = ["odd" if i % 2 else "even" for i in range(len(paths))]
    report = build_hdf5_splits(paths, tmp_path / "out", labels=labels, size=8, val_size=0,
                               test_size=2, workers=1, verbose=False)
    assert report.class_names == ["even", "odd"]
    assert report.counts == {"train": len(paths) - 2, "test": 2}


def _kaggle(tmp_path):
    write_kaggle_folder(tmp_path / "train", per_class=4, seed=1)
    return tmp_path / "train"


def test_cli_kaggle_names(tmp_path):
    root = _kaggle(tmp_path)
    out = tmp_path / "hdf5"
    status = cli.main(["build-dataset", "-d", str(root), "-o", str(out), "--labels", "prefix",
                       "--size", "12x8", "--val-size", "2", "--test-size", "2", "--workers", "2",
                       "--means", "dogs_vs_cats_mean.json", "-q"])
    assert status == 0
    train, labels, names = _read(out / "train.hdf5")
    assert names == ["cat", "dog"] and sorted(labels) == [0, 0, 1, 1]
    assert train.shape == (4, 8, 12, 3)
    with open(out / "dogs_vs_cats_mean.json") as handle:
        means = json.load(handle)
    assert set(means) == {"R", "G", "B", "build_id"}
    np.testing.assert_allclose(means["R"], train[..., 2].mean())
    np.testing.assert_allclose(means["B"], train[..., 0].mean())


def test_cli_errors_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["build-dataset", "-d", str(empty), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pyimagesearch build-dataset: error: no image files") and "\n" not in err
    assert cli.main(["build-dataset", "-d", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]) == 2
    assert "image folder not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_class_too_small_fails_before_writing(folder, tmp_path):
    for path in list((folder / "pandas").iterdir())[2:]:
        path.unlink()
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="class 'pandas' has 2 image\\(s\\); at least 3"):
        build_hdf5_splits(folder, out, size=8, val_size=3, test_size=3, workers=1)
    assert not out.exists()


def test_existing_outputs_need_overwrite(folder, tmp_path):
    out = tmp_path / "out"
    build_hdf5_splits(folder, out, size=8, val_size=3, test_size=3, workers=1, verbose=False)
    before = (out / "train.hdf5").read_bytes()
    with pytest.raises(ValueError, match="train.hdf5' already exists"):
        build_hdf5_splits(folder, out, size=8, val_size=3, test_size=3, workers=1, verbose=False)
    assert (out / "train.hdf5").read_bytes() == before
    report = build_hdf5_splits(folder, out, size=4, val_size=3, test_size=3, workers=1,
                               overwrite=True, verbose=False)
    assert _read(report.paths["train"])[0].shape[1:] == (4, 4, 3)
    assert [name for name in os.listdir(out) if name.startswith(".")] == [".pyimagesearch.lock"]  # stays


def test_all_training_images_unreadable_leaves_nothing(tmp_path):
    root = tmp_path / "bad"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(2):
            (root / name / f"{i}.jpg").write_bytes(b"junk")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="no readable training image"):
        build_hdf5_splits(root, out, size=8, val_size=0, test_size=0, workers=1, verbose=False)
    assert not out.exists() or os.listdir(out) == [".pyimagesearch.lock"]  # the lock file stays


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"size": 0}, "size must be a positive int or \\(width, height\\)"),
        ({"size": (8,)}, "size must be a positive int or \\(width, height\\)"),
        ({"val_size": 1.5}, "val_size must be an integer count or a fraction in \\[0, 1\\)"),
        ({"test_size": -1}, "test_size=-1 must be a count \\(0 or more\\)"),
        ({"test_size": 16}, "test_size=16 must be a count in \\[0, 16\\)"),
        ({"test_size": 2}, "test_size gives 2 images, fewer than the 3 classes"),
        ({"val_size": 7, "test_size": 7}, "leave 2 of 16 images for training"),
        ({"workers": 0}, "workers must be a positive integer"),
        ({"label_from": "grandparent"}, "label_from must be one of"),
        ({"labels": ["a", "b"]}, "got 2 labels for 16 images"),
    ],
)
def test_bad_arguments(folder, tmp_path, kwargs, match):
    arguments = {"size": 8, "val_size": 3, "test_size": 3, "workers": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        build_hdf5_splits(folder, tmp_path / "out", **arguments)
    assert not (tmp_path / "out").exists()


def test_no_paths():
    with pytest.raises(ValueError, match="at least one image path"):
        labelled_images([])


def test_given_validation_set_is_written_as_val(folder, tmp_path):
    rng = np.random.default_rng(1)
    val_paths = []
    for i, name in enumerate(["pandas", "cats", "pandas"]):
        path = tmp_path / f"val_{i}.png"
        cv2.imwrite(str(path), noise_image(rng))
        val_paths.append(str(path))
    report = build_hdf5_splits(folder, tmp_path / "out", size=8, test_size=3, workers=1, verbose=False,
                               val_images=val_paths, val_labels=["pandas", "cats", "pandas"])
    assert report.counts == {"train": 12, "val": 3, "test": 3}
    images, labels, names = _read(report.paths["val"])
    assert names == ["cats", "dogs", "pandas"]
    assert labels.tolist() == [2, 0, 2]
    expected = AspectAwarePreprocessor(8, 8).preprocess(cv2.imread(val_paths[1]))
    np.testing.assert_array_equal(images[1], expected)


def test_given_validation_set_errors(folder, tmp_path):
    path = tmp_path / "v.png"
    cv2.imwrite(str(path), np.zeros((9, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="lack: \\['wolves'\\]"):
        build_hdf5_splits(folder, tmp_path / "out", size=8, val_images=[str(path)], val_labels=["wolves"])
    with pytest.raises(ValueError, match="val_size=3 and val_images"):
        build_hdf5_splits(folder, tmp_path / "out", size=8, val_size=3, val_images=[str(path)], val_labels=["cats"])
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- layouts, summary, -q

def test_flat_folder_without_class_folders_names_the_two_layouts(tmp_path, capsys):
    root = _kaggle(tmp_path)  # cat.0.jpg ... in one folder: with the default --labels parent, one class "kaggle"
    with pytest.raises(ValueError, match=r"lie directly in .*outside any class folder"):
        labelled_images(root)
    status = cli.main(["build-dataset", "-d", str(root), "-o", str(tmp_path / "o"), "--size", "8"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "class subfolders" in err and "--labels parent" in err and "--labels prefix" in err
    assert not (tmp_path / "o").exists()


def test_image_beside_the_class_folders_is_refused(folder):
    cv2.imwrite(str(folder / "stray.jpg"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="1 image\\(s\\) lie directly in .*'stray.jpg'"):
        labelled_images(folder)


def test_prefix_labels_on_class_folders_suggest_the_other_layout(folder, tmp_path, capsys):
    # images named 0.jpg, 1.png ... inside class folders: prefixes "0", "1" ... repeat across classes
    renamed = tmp_path / "renamed"
    for path in sorted(folder.rglob("*.*")):
        target = renamed / path.parent.name / f"{path.parent.name}_{path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="one label per image"):
        labelled_images(renamed, label_from="prefix")
    status = cli.main(["build-dataset", "-d", str(renamed), "-o", str(tmp_path / "o"), "--labels", "prefix"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "16 labels for 16 images" in err and "use --labels parent" in err
    # the layout the flag is for still works, and explicit labels are not second-guessed
    assert len(labelled_images(_kaggle(tmp_path), label_from="prefix")[0]) == 8
    paths = sorted(str(p) for p in renamed.rglob("*.*"))
    assert labelled_images(paths, labels=[str(i) for i in range(len(paths))])[1][0] == "0"


def test_quiet_hides_only_the_progress_bars(folder, tmp_path, capsys):
    status = cli.main(["build-dataset", "-d", str(folder), "-o", str(tmp_path / "o"), "--size", "8",
                       "--val-size", "3", "--test-size", "3", "-q"])
    captured = capsys.readouterr()
    assert status == 0
    assert "Building" not in captured.err and "%" not in captured.err
    assert "[INFO] wrote train.hdf5 (9 rows), val.hdf5 (3 rows), test.hdf5 (3 rows) and mean.json" in captured.out
    assert "[INFO] skipped 1 unreadable image(s):" in captured.out
    assert str(folder / "dogs" / "broken.jpg") in captured.out


def test_summary_says_1_row(tmp_path):
    report = BuildReport(
        paths={name: str(tmp_path / f"{name}.hdf5") for name in ("train", "val", "test")},
        counts={"train": 3, "val": 1, "test": 1}, means_path=str(tmp_path / "mean.json"),
        means={}, class_names=["cats", "dogs"], skipped=[])
    assert "train.hdf5 (3 rows), val.hdf5 (1 row), test.hdf5 (1 row) and mean.json" in report.summary()


def test_dataset_given_a_file_says_it_is_a_file(folder, tmp_path, capsys):
    image = folder / "cats" / "0.jpg"
    assert cli.main(["build-dataset", "-d", str(image), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"image folder {str(image)!r} is a file, not a folder" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["--size", "100000"], "argument --size: 100000 makes every image 30.0 GB, and an image is one HDF5 chunk, "
                           "which must be under 4 GB: at most 37837x37837"),
    (["--size", "0"], "argument --size: expected positive sides"),
    (["--test-size", "1.5"], "argument --test-size: expected a count (0 or more) or a fraction in [0, 1), got 1.5"),
    (["--val-size", "-3"], "argument --val-size: expected a count (0 or more) or a fraction in [0, 1), got -3"),
])
def test_build_dataset_sizes_are_refused_before_the_scan(tmp_path, capsys, argv, message):
    # the dataset folder does not even exist: the sizes are answered first, in one line
    output = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["build-dataset", "-d", str(tmp_path / "none"), "-o", str(output), *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("error:") == 1
    assert not output.exists()


def test_library_checks_sizes_before_scanning_and_writing(tmp_path):
    for kwargs, message in ((dict(size=100000), "under 4 GB: at most 37837x37837"),
                            (dict(test_size=1.5), "test_size must be an integer count or a fraction"),
                            (dict(val_size=-1), "val_size=-1 must be a count \\(0 or more\\)")):
        with pytest.raises(ValueError, match=message):
            build_hdf5_splits(tmp_path / "none", tmp_path / "out", **kwargs)
        assert not (tmp_path / "out").exists()
