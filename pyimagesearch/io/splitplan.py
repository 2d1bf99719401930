"""Which image goes to which split: the stratified train/val/test plan of a dataset build.

Planning decodes no image and writes nothing; `build_hdf5_splits` writes the plan.
"""

import dataclasses
import os

import numpy as np

from pyimagesearch.datasets.labelled import scan_labelled_images

SPLITS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True)
class SplitPlan:
    """The rows of each split of a dataset build.

    Attributes:
        paths: every image path: the images, then the given validation images.
        labels: the integer label of each path (an index into `class_names`).
        class_names: the sorted class names, indexed by label.
        splits: split name -> indexes into `paths`, in `SPLITS` order; only
            the splits that hold images ("train" always).
        left_out: path -> why a folder listing left it out.
    """

    paths: list
    labels: np.ndarray
    class_names: list
    splits: dict
    left_out: dict = dataclasses.field(default_factory=dict)


def plan_splits(paths, labels, *, val_size=None, test_size=0.1, random_state=42,
                val_images=None, val_labels=None, label_from="parent", follow_links=False,
                left_out=None):
    """Plans stratified train/val/test splits of labelled images.

    The test split is drawn first, then the validation split from what is
    left (scikit-learn's `train_test_split`, stratified on the labels);
    a given validation set (`val_images`) replaces the drawn one.

    Args:
        paths: the image paths.
        labels: one class name per path (turned into strings).
        val_size: validation images, a count or a fraction of `paths` (0: none);
            0.1 by default, 0 when `val_images` is given.
        test_size: test images, a count or a fraction of `paths` (0: none).
        random_state: seed of the stratified splits.
        val_images: a given validation set: a folder (listed, the only file
            access here) or a sequence of paths.
        val_labels: the labels of `val_images` (None derives them with
            `label_from`); each must be a class of `labels`.
        label_from: "parent" or "prefix", for the labels of `val_images`.
        follow_links: whether links in a `val_images` folder may point outside it.
        left_out: path -> why the listing of `paths` left it out (named when
            the images hold one class; kept in the plan).

    Returns:
        A `SplitPlan`.

    Raises:
        ValueError: no paths, different numbers of paths and labels, one
            class, `val_size` with `val_images`, unknown validation classes,
            sizes that leave a split with fewer images than classes, or a
            class too small to split.
    """
    from sklearn.model_selection import train_test_split

    paths = [os.fspath(path) for path in paths]
    names = [str(label) for label in labels]
    if not paths:
        raise ValueError("paths must hold at least one image path, got none.")
    if len(names) != len(paths):
        raise ValueError(
            f"labels must hold one label per path: got {len(names)} labels for {len(paths)} paths.")
    left_out = dict(left_out or {})
    class_names, encoded = np.unique(np.asarray(names), return_inverse=True)
    if len(class_names) < 2:
        lost = "".join(f"; left out {path!r} ({why})" for path, why in list(left_out.items())[:3])
        raise ValueError(
            f"the images hold one class ({str(class_names[0])!r}); a classifier needs at least "
            f"two classes: give a folder with one subfolder per class{lost}.")
    n = len(paths)
    if val_images is not None:
        if val_size:
            raise ValueError(f"val_size={val_size!r} and val_images are both given; pass one of them.")
        val_size = 0
        paths, encoded, given_val = _append_given(
            paths, encoded, class_names, val_images, val_labels, label_from, follow_links, left_out)
    elif val_size is None:
        val_size = 0.1
    n_test = _split_count(test_size, n, "test_size")
    n_val = _split_count(val_size, n, "val_size")
    _check_counts(n, n_test, n_val, val_size, test_size, class_names, encoded[:n])

    splits = {"train": np.arange(n)}
    for name, count in (("test", n_test), ("val", n_val)):
        if count:
            keep, held = train_test_split(
                splits["train"], test_size=count, stratify=encoded[splits["train"]],
                random_state=random_state,
            )
            splits["train"], splits[name] = keep, held
    if val_images is not None:
        splits["val"] = given_val
    return SplitPlan(
        paths=paths, labels=encoded, class_names=[str(name) for name in class_names],
        splits={name: splits[name] for name in SPLITS if name in splits}, left_out=left_out,
    )


def _check_counts(n, n_test, n_val, val_size, test_size, class_names, encoded):
    """Refuses split sizes that leave a split, or a class of a split, without images."""
    if n - n_test - n_val < len(class_names):
        raise ValueError(
            f"val_size={val_size!r} and test_size={test_size!r} leave {n - n_test - n_val} "
            f"of {n} images for training, fewer than the {len(class_names)} classes."
        )
    for count, argument in ((n_test, "test_size"), (n_val, "val_size")):
        if 0 < count < len(class_names):
            raise ValueError(
                f"{argument} gives {count} images, fewer than the {len(class_names)} "
                f"classes: a stratified split needs at least one image per class."
            )
    needed = 1 + (n_test > 0) + (n_val > 0)
    per_class = np.bincount(encoded, minlength=len(class_names))
    if per_class.min() < needed:
        small = str(class_names[per_class.argmin()])
        raise ValueError(
            f"class {small!r} has {per_class.min()} image(s); at least {needed} are "
            f"needed to split every class into {', '.join(SPLITS[:needed])}."
        )


def _append_given(paths, encoded, class_names, images, labels, label_from, follow_links, left_out):
    """Appends a given split's paths and encoded labels; returns them and its row indexes."""
    given_paths, given_names, given_left_out = scan_labelled_images(images, labels, label_from, follow_links)
    left_out.update(given_left_out)
    unknown = sorted(set(given_names) - set(class_names.tolist()))
    if unknown:
        raise ValueError(
            f"val_labels holds classes the training images lack: {unknown[:5]}"
            f"{' ...' if len(unknown) > 5 else ''}."
        )
    given_encoded = np.searchsorted(class_names, np.asarray(given_names))
    rows = np.arange(len(paths), len(paths) + len(given_paths))
    return paths + given_paths, np.concatenate([encoded, given_encoded]), rows


def _split_count(size, n, argument):
    """Turns a count (int) or a fraction of `n` (float in [0, 1)) into a count."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if not 0 <= size < n:
            raise ValueError(f"{argument}={size!r} must be a count in [0, {n}) (the number of images).")
        return int(size)
    if isinstance(size, (float, np.floating)) and 0 <= size < 1:
        return int(round(size * n))
    raise ValueError(f"{argument} must be an integer count or a fraction in [0, 1), got {size!r}.")
