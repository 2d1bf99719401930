"""The split plan of a dataset build: which image goes to train/val/test, decided without decoding one.

The paths below do not exist: planning never opens an image.
"""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from pyimagesearch.io import SplitPlan, plan_splits


def _images(counts):
    """`(paths, labels)`: `counts` maps a class to its number of images, under a folder that does not exist."""
    paths = [f"/nowhere/{name}/{i}.jpg" for name, count in counts.items() for i in range(count)]
    labels = [path.split("/")[2] for path in paths]
    return paths, labels


PATHS, LABELS = _images({"dogs": 60, "cats": 30, "pandas": 10})


def _split_labels(plan, name):
    return np.bincount(plan.labels[plan.splits[name]], minlength=len(plan.class_names)).tolist()


def test_plan_is_deterministic_and_depends_on_random_state():
    first = plan_splits(PATHS, LABELS, val_size=0.1, test_size=0.2, random_state=7)
    again = plan_splits(PATHS, LABELS, val_size=0.1, test_size=0.2, random_state=7)
    other = plan_splits(PATHS, LABELS, val_size=0.1, test_size=0.2, random_state=8)
    assert isinstance(first, SplitPlan)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(first.splits[name], again.splits[name])
    assert not np.array_equal(first.splits["test"], other.splits["test"])


def test_test_split_is_the_books_stratified_train_test_split():
    # the book's build scripts: train_test_split(..., test_size=..., stratify=labels, random_state=42)
    plan = plan_splits(PATHS, LABELS, val_size=0, test_size=20)
    encoded = np.unique(LABELS, return_inverse=True)[1]
    train, test = train_test_split(np.arange(len(PATHS)), test_size=20, stratify=encoded, random_state=42)
    np.testing.assert_array_equal(plan.splits["test"], test)
    np.testing.assert_array_equal(plan.splits["train"], train)
    assert list(plan.splits) == ["train", "test"]


def test_splits_are_stratified():
    plan = plan_splits(PATHS, LABELS, val_size=0.1, test_size=0.2)
    assert plan.class_names == ["cats", "dogs", "pandas"]
    assert _split_labels(plan, "test") == [6, 12, 2]
    assert _split_labels(plan, "val") == [3, 6, 1]
    assert _split_labels(plan, "train") == [21, 42, 7]
    assert list(plan.splits) == ["train", "val", "test"]


def test_every_image_is_in_exactly_one_split():
    plan = plan_splits(PATHS, LABELS, val_size=7, test_size=13, random_state=3)
    rows = np.concatenate(list(plan.splits.values()))
    assert sorted(rows.tolist()) == list(range(len(PATHS)))
    assert [len(rows) for rows in plan.splits.values()] == [80, 7, 13]
    assert plan.paths == PATHS
    assert [plan.class_names[label] for label in plan.labels] == LABELS


def test_default_sizes_and_no_test_split():
    plan = plan_splits(PATHS, LABELS)  # build_hdf5_splits' defaults: val 0.1, test 0.1
    assert [len(rows) for rows in plan.splits.values()] == [80, 10, 10]
    plan = plan_splits(PATHS, LABELS, val_size=0, test_size=0)
    assert list(plan.splits) == ["train"] and len(plan.splits["train"]) == 100


def test_labels_are_class_names_as_strings():
    plan = plan_splits([f"{i}.jpg" for i in range(6)], [10, 2, 10, 2, 10, 2], val_size=0, test_size=2)
    assert plan.class_names == ["10", "2"]  # sorted as strings, as the build stores them


def test_given_validation_set_is_appended_and_replaces_the_drawn_one():
    val_paths = ["/nowhere/val/a.jpg", "/nowhere/val/b.jpg", "/nowhere/val/c.jpg"]
    plan = plan_splits(PATHS, LABELS, test_size=10, val_images=val_paths,
                       val_labels=["pandas", "cats", "pandas"], left_out={"/nowhere/x": "why"})
    assert plan.paths == PATHS + val_paths
    assert plan.splits["val"].tolist() == [100, 101, 102]
    assert plan.labels[100:].tolist() == [2, 0, 2]
    assert len(plan.splits["train"]) == 90 and len(plan.splits["test"]) == 10
    assert plan.left_out == {"/nowhere/x": "why"}


def test_given_validation_labels_from_their_paths():
    plan = plan_splits(PATHS, LABELS, test_size=0, val_images=["/v/dogs/1.jpg", "/v/cats/2.jpg"])
    assert [plan.class_names[label] for label in plan.labels[plan.splits["val"]]] == ["dogs", "cats"]


def test_given_validation_set_errors():
    with pytest.raises(ValueError, match="lack: \\['wolves'\\]"):
        plan_splits(PATHS, LABELS, val_images=["/v/1.jpg"], val_labels=["wolves"])
    with pytest.raises(ValueError, match="val_size=3 and val_images are both given"):
        plan_splits(PATHS, LABELS, val_size=3, val_images=["/v/cats/1.jpg"])
    with pytest.raises(ValueError, match="got 2 labels for 1 images"):
        plan_splits(PATHS, LABELS, val_images=["/v/cats/1.jpg"], val_labels=["cats", "dogs"])


def test_one_class_is_refused_naming_what_was_left_out():
    paths, labels = _images({"cats": 10})
    with pytest.raises(ValueError, match="one class \\('cats'\\).*left out '/nowhere/dogs' \\(unreadable"):
        plan_splits(paths, labels, left_out={"/nowhere/dogs": "unreadable folder (Permission denied)"})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"test_size": 2}, "test_size gives 2 images, fewer than the 3 classes"),
        ({"val_size": 0.02}, "val_size gives 2 images, fewer than the 3 classes"),
        ({"val_size": 50, "test_size": 48}, "leave 2 of 100 images for training, fewer than the 3 classes"),
        ({"test_size": 100}, "test_size=100 must be a count in \\[0, 100\\)"),
        ({"val_size": -1}, "val_size=-1 must be a count in \\[0, 100\\)"),
        ({"test_size": 1.0}, "test_size must be an integer count or a fraction in \\[0, 1\\)"),
        ({"val_size": True}, "val_size must be an integer count or a fraction"),
        ({"test_size": "10"}, "test_size must be an integer count or a fraction"),
    ],
)
def test_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plan_splits(PATHS, LABELS, **kwargs)


def test_class_too_small_to_split():
    paths, labels = _images({"cats": 10, "dogs": 10, "pandas": 2})
    with pytest.raises(ValueError, match="class 'pandas' has 2 image\\(s\\); at least 3 are needed"
                                         " to split every class into train, val, test"):
        plan_splits(paths, labels, val_size=3, test_size=3)
    assert len(plan_splits(paths, labels, val_size=0, test_size=3).splits["test"]) == 3


def test_bad_paths_and_labels():
    with pytest.raises(ValueError, match="paths must hold at least one image path"):
        plan_splits([], [])
    with pytest.raises(ValueError, match="got 2 labels for 3 paths"):
        plan_splits(["a.jpg", "b.jpg", "c.jpg"], ["x", "y"])
