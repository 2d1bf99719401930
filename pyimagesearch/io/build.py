"""Build train/val/test HDF5 files from an image folder (chapters 9 to 11).

`plan_splits` (`pyimagesearch.io.splitplan`) decides which image goes to which
split; this module writes the plan. Decoding and resizing run in a pool of
threads (OpenCV releases the GIL); the calling thread writes the rows in
order, so the result does not depend on the number of workers.
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import json
import math
import os
import uuid

import cv2
import numpy as np

from pyimagesearch.datasets.labelled import scan_labelled_images
from pyimagesearch.datasets.paths import MAX_IMAGE_PIXELS, check_max_pixels, read_image_checked
from pyimagesearch.io.buildid import BUILD_ID, BUILD_SET
from pyimagesearch.io.hdf5datasetwriter import HDF5DatasetWriter
from pyimagesearch.io.splitplan import SPLITS, plan_splits
from pyimagesearch.preprocessing.aspectawarepreprocessor import AspectAwarePreprocessor
from pyimagesearch.infra.atomic import atomic_output, journal_files, new_temporary
from pyimagesearch.infra.publish import folder_lock, publish_set
from pyimagesearch.infra.progress import progress_bar
from pyimagesearch.infra.setpaths import means_target
from pyimagesearch.infra.signals import terminate_as_interrupt
from pyimagesearch.infra.validation import check_int, renamed_keyword


# HDF5's limit on one chunk (one image here)
MAX_CHUNK_BYTES = 2**32


@dataclasses.dataclass
class BuildReport:
    """What `build_hdf5_splits` wrote.

    Attributes:
        paths: split name -> HDF5 path ("train", and "val"/"test" when not empty).
        counts: split name -> rows written.
        means_path: path of the training set's means JSON.
        means: the means, `{"R": .., "G": .., "B": ..}`.
        class_names: class names, indexed by label.
        skipped: paths of the unreadable images (and folders, pipes, ...) left out.
        build_id: the id stamped in every file of the set.
        reasons: path -> why it was skipped.
        empty_classes: classes that lost all their images (-> why).
    """

    paths: dict
    counts: dict
    means_path: str
    means: dict
    class_names: list
    skipped: list
    build_id: str = None
    reasons: dict = dataclasses.field(default_factory=dict)
    empty_classes: dict = dataclasses.field(default_factory=dict)

    def summary(self):
        """The lines printed at the end of a build: files written, images skipped."""
        written = ", ".join(
            f"{os.path.basename(self.paths[name])} ({_rows(self.counts[name])})" for name in self.paths
        )
        folder = os.path.dirname(os.path.abspath(next(iter(self.paths.values()))))
        means = (os.path.basename(self.means_path) if os.path.dirname(os.path.abspath(self.means_path)) == folder
                 else f"the means to {os.path.abspath(self.means_path)} (outside the set's folder, as asked)")
        lines = [f"[INFO] wrote {written} and {means}"]
        lines.extend(skipped_lines(self.skipped, self.reasons))
        for name, why in self.empty_classes.items():
            lines.append(f"[WARNING] class {name!r} lost all its images ({why}): the set has no {name!r}")
        return "\n".join(lines)


def skipped_lines(skipped, reasons):
    """The summary lines listing the skipped files, each with its reason when known."""
    if not skipped:
        return []
    lines = [f"[INFO] skipped {len(skipped)} unreadable image(s):"]
    lines.extend(f"  {path}" + (f": {reasons[path]}" if reasons.get(path) else "") for path in skipped)
    return lines


def _rows(count):
    return f"{count} row" if count == 1 else f"{count} rows"


def build_hdf5_splits(images, output_dir, labels=None, label_from="parent",
                      size=256, val_size=None, test_size=0.1, random_state=42,
                      workers=None, means_name="mean.json", buf_size=1000,
                      overwrite=False, verbose=True, val_images=None, val_labels=None,
                      follow_links=False, checksum=True, max_pixels=MAX_IMAGE_PIXELS, bufSize=None):
    """Builds stratified train/val/test HDF5 files and the training set's means.

    Images are decoded, resized aspect-aware (scale, then centre-crop) to
    `size` and stored as `uint8` BGR rows in `train.hdf5`, `val.hdf5` and
    `test.hdf5` under `output_dir`, with integer labels and the class names.
    The means JSON is the book's `{"R": .., "G": .., "B": ..}`: per-channel
    means of the training images. Unreadable images and folders, anything
    that is not a regular file, truncated JPEGs and images above `max_pixels`
    are skipped and listed; a class that loses all its images is named.

    The build holds the output folder's lock (`.pyimagesearch.lock`, naming
    its host and pid) from start to end, so a second build into the folder is
    refused at once, naming the first. The files are published as one unit
    (`pyimagesearch.infra.publish`): written beside their targets under
    temporary names, then a journal, then the renames. A failure or a signal
    before the journal leaves the previous set whole and no temporary file; a
    signal after it is held until the new set is complete; a process killed
    after it leaves a journal that the next build, or `pyimagesearch repair
    FOLDER`, completes before anything else (a reader refuses the folder
    until then, naming that command).
    Every file carries one build id (the HDF5 files' `build_id` attribute,
    the means JSON's `"build_id"` key) that readers check, and `overwrite`
    removes split files of an earlier build that this build does not produce.

    Args:
        images: a folder (listed recursively) or a sequence of image paths.
        output_dir: folder for the HDF5 files and the means JSON.
        labels: one label per path; None derives them with `label_from`.
        label_from: "parent" (`{class}/{image}`) or "prefix" (`cat.11866.jpg`).
        size: output size, an int for squares or `(width, height)`.
        val_size: validation images, a count or a fraction of all images (0: none);
            0.1 by default, 0 when `val_images` is given.
        test_size: test images, a count or a fraction of all images (0: none).
        random_state: seed of the stratified splits.
        workers: decoding threads (None: one per CPU core; 1: in the calling thread).
        means_name: file name of the means JSON in `output_dir` (a `.json`
            name without a folder), or an absolute path to write it elsewhere
            on purpose (written after the set, the summary says where).
        buf_size: rows the writers buffer before writing.
        bufSize: `buf_size`'s old name (deprecated).
        overwrite: whether existing output files may be replaced (and split
            files this build does not produce removed).
        verbose: whether to show progress bars and the final summary.
        val_images: a given validation set instead of one split off `images`
            (Tiny ImageNet's `val/`): a folder or a sequence of paths.
        val_labels: the labels of `val_images` (None derives them with
            `label_from`); each must be a class of the training images.
        follow_links: whether links in the image folders may point outside
            them (by default such links are left out; see `list_images`).
        checksum: whether the HDF5 files store checksums (`fletcher32` and a
            CRC32 per chunk, see `HDF5DatasetWriter`).
        max_pixels: images whose header declares more pixels are skipped
            before decoding (decompression bombs); None: no limit but OpenCV's.

    Returns:
        A `BuildReport`.

    Raises:
        FileNotFoundError: `images` is a path that is not a folder.
        ValueError: no images, one class, bad sizes, a class too small to split,
            a `means_name` that is not a `.json` name or leaves `output_dir`
            without being absolute, an output path that is a folder, existing outputs without
            `overwrite`, or no readable training image.
        pyimagesearch.infra.publish.FolderBusyError: another build holds the
            output folder (it is named).
    """
    # the arguments first: a mistake is answered before the folder is scanned
    buf_size = renamed_keyword(bufSize, "bufSize", buf_size, "buf_size", 1000, "build_hdf5_splits")
    means_target(output_dir, means_name)
    width, height = _check_size(size)
    workers = _check_workers(workers)
    check_max_pixels(max_pixels)
    for (value, name) in ((val_size, "val_size"), (test_size, "test_size")):
        _check_split_size(value, name)
    paths, names, left_out = scan_labelled_images(images, labels, label_from, follow_links)
    plan = plan_splits(
        paths, names, val_size=val_size, test_size=test_size, random_state=random_state,
        val_images=val_images, val_labels=val_labels, label_from=label_from,
        follow_links=follow_links, left_out=left_out,
    )
    report = _write_splits(
        plan, os.fspath(output_dir), width, height, workers=workers, means_name=means_name,
        buf_size=buf_size, overwrite=overwrite, verbose=verbose, checksum=checksum,
        max_pixels=max_pixels,
    )
    report.empty_classes.update(_lost_class_folders(images, label_from, plan.left_out))
    if verbose:
        print(report.summary())
    return report


def _write_splits(plan, output_dir, width, height, *, workers, means_name, buf_size, overwrite,
                  verbose, checksum, max_pixels):
    """Writes a `SplitPlan` as HDF5 files and the means JSON, published as one set.

    Returns:
        A `BuildReport` whose `empty_classes` names the classes whose every
        image was unreadable.
    """
    outputs = {name: os.path.join(output_dir, f"{name}.hdf5") for name in plan.splits}
    (means_path, outside) = means_target(output_dir, means_name)
    every_split = {name: os.path.join(output_dir, f"{name}.hdf5") for name in SPLITS}
    _check_outputs([*every_split.values(), means_path])

    build_id = uuid.uuid4().hex
    build_set = {name: os.path.basename(path) for name, path in outputs.items()}
    build_set["means"] = means_path if outside else os.path.basename(means_path)
    finished = []  # (temporary, target) of the files written, published together
    try:
        with terminate_as_interrupt(), folder_lock(output_dir), contextlib.ExitStack() as stack:
            if not overwrite:
                _refuse_existing([*every_split.values(), means_path])
            pool = stack.enter_context(_image_pool(workers))
            writers = {}
            for name, indexes in plan.splits.items():
                writer = HDF5DatasetWriter(
                    (len(indexes), height, width, 3), outputs[name], bufSize=buf_size,
                    dtype="uint8", overwrite=overwrite, checksum=checksum, build_id=build_id,
                )
                stack.enter_context(writer)
                writer.storeClassLabels(plan.class_names)
                writer.db.attrs[BUILD_SET] = json.dumps(build_set)
                writers[name] = writer
            decoded = _write_rows(plan, writers, pool, width, height, max_pixels, verbose)
            counts = {name: writer.idx for name, writer in writers.items()}
            if counts["train"] == 0:
                raise ValueError("no readable training image: every training image failed to decode.")
            bgr = decoded.channel_sums / (counts["train"] * width * height)
            means = {"R": float(bgr[2]), "G": float(bgr[1]), "B": float(bgr[0])}
            for name, writer in writers.items():
                finished.append((writer.close(publish=False), outputs[name]))
            if not outside:
                finished.append((new_temporary(means_path), means_path))
                with open(finished[-1][0], "w") as handle:
                    json.dump({**means, BUILD_ID: build_id}, handle)
            stale = [path for name, path in every_split.items() if name not in outputs]
            publish_set(output_dir, finished, removals=stale, overwrite=overwrite)
            if outside:  # a publish renames inside its own folder only: the means follow, atomically
                with atomic_output(means_path) as temporary, open(temporary, "w") as handle:
                    json.dump({**means, BUILD_ID: build_id}, handle)
    except BaseException:
        published = journal_files(output_dir)  # after the commit point they are the new set
        for temporary, _ in finished:
            if published is not None and os.path.normpath(temporary) not in published:
                with contextlib.suppress(OSError):
                    os.remove(temporary)
        raise

    unreadable = np.flatnonzero(decoded.written == 0)
    return BuildReport(
        paths=outputs, counts=counts, means_path=means_path, means=means,
        class_names=list(plan.class_names), skipped=[*plan.left_out, *decoded.skipped],
        build_id=build_id, reasons={**plan.left_out, **decoded.reasons},
        empty_classes={plan.class_names[i]: "every image unreadable" for i in unreadable},
    )


@dataclasses.dataclass
class _Decoded:
    """What `_write_rows` wrote: per-class row counts, the training channel sums, the skipped images."""

    written: np.ndarray
    channel_sums: np.ndarray
    skipped: list
    reasons: dict


def _write_rows(plan, writers, pool, width, height, max_pixels, verbose):
    """Decodes every planned image in `pool` and adds it to its split's writer, in plan order."""
    decoded = _Decoded(np.zeros(len(plan.class_names), dtype=np.int64), np.zeros(3, dtype=np.float64), [], {})
    # one ordered stream over every split keeps the workers busy across splits
    loaded = pool((plan.paths[i], width, height, max_pixels)
                  for indexes in plan.splits.values() for i in indexes)
    for name, indexes in plan.splits.items():
        writer = writers[name]
        bar = progress_bar(f"Building {name}: ", len(indexes), verbose)
        # indexes first: zip stops at the split's end without taking the next image
        for done, (index, (image, sums)) in enumerate(zip(indexes, loaded), 1):
            label = plan.labels[index]
            if image is None:
                decoded.skipped.append(plan.paths[index])
                decoded.reasons[plan.paths[index]] = sums
            else:
                writer.add(image[np.newaxis], [label])
                decoded.written[label] += 1
                if name == "train":
                    decoded.channel_sums += sums
            bar.update(done)
        bar.finish()
        writer.flush()
    return decoded


def _check_outputs(targets):
    """Refuses output files that are folders."""
    for path in targets:
        if os.path.isdir(path):
            raise ValueError(f"output {path!r} is a folder; expected a file path (or none there).")


def _refuse_existing(targets):
    for path in targets:
        if os.path.lexists(path):
            raise ValueError(
                f"output {path!r} already exists; delete it or pass overwrite=True (--overwrite).")


def _lost_class_folders(images, label_from, left_out):
    """Class name -> why its folder was left out, for a folder of class folders."""
    lost = {}
    if isinstance(images, (str, os.PathLike)) and label_from == "parent":
        root = os.path.normpath(os.fspath(images))
        for path, why in left_out.items():
            if os.path.dirname(os.path.normpath(path)) == root and "folder" in why:
                lost[os.path.basename(path)] = why
    return lost


def _load_image(task):
    """Decodes one image, resizes it aspect-aware and sums its channels.

    Returns:
        `(image, (B, G, R) sums)`, or `(None, reason)` if the file is not read.
    """
    path, width, height, max_pixels = task
    image, reason = read_image_checked(path, cv2.IMREAD_COLOR, max_pixels)
    if image is None:
        return None, reason
    image = AspectAwarePreprocessor(width, height).preprocess(image)
    # exact for uint8 sums below 2**53
    return image, np.array(cv2.sumElems(image)[:3])


@contextlib.contextmanager
def _image_pool(workers, window=256):
    """Yields an ordered `map(tasks)` over `_load_image` in `workers` threads.

    OpenCV releases the GIL while decoding and resizing, so threads run in
    parallel without pickling images between processes (or forking a process
    that already runs OpenCV's and TensorFlow's thread pools). At most
    `window` images are in flight, whatever the consumer's pace. On exit
    (an error, Ctrl-C) the images not yet started are cancelled, so only
    those being decoded are waited for.
    """
    if workers == 1:
        yield lambda tasks: map(_load_image, tasks)
        return
    threads = concurrent.futures.ThreadPoolExecutor(workers)
    try:
        yield lambda tasks: _bounded_map(threads, _load_image, tasks, window)
    finally:
        threads.shutdown(wait=True, cancel_futures=True)


def _bounded_map(executor, function, items, window):
    pending = collections.deque()
    for item in items:
        pending.append(executor.submit(function, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _check_size(size):
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    try:
        width, height = (int(s) for s in size)
        ok = width > 0 and height > 0 and all(float(s) == int(s) for s in size)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"size must be a positive int or (width, height), got {size!r}.")
    if width * height * 3 >= MAX_CHUNK_BYTES:
        side = math.isqrt((MAX_CHUNK_BYTES - 1) // 3)
        raise ValueError(
            f"size={size!r} makes every image {width}x{height}x3 = {width * height * 3 / 1e9:.1f} GB, and an "
            f"image is one HDF5 chunk, which must be under 4 GB: at most {side}x{side}.")
    return width, height


def _check_split_size(value, name):
    """A split size's type and range, before the scan (a count is compared with the images after it)."""
    if value is None:
        return
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{name}={value!r} must be a count (0 or more) or a fraction in [0, 1).")
    elif not (isinstance(value, (float, np.floating)) and 0 <= value < 1):
        raise ValueError(f"{name} must be an integer count or a fraction in [0, 1), got {value!r}.")


def _check_workers(workers):
    if workers is None:
        return os.cpu_count() or 1
    return check_int(workers, "workers", allow_none=True)
