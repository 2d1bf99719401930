"""Feature extraction with a headless keras.applications network (chapters 3 and 10)."""

import concurrent.futures
import dataclasses
import importlib
import os
import random

import cv2
import numpy as np

from pyimagesearch.datasets.labelled import scan_labelled_images
from pyimagesearch.datasets.paths import MAX_IMAGE_PIXELS, check_max_pixels, read_image_checked
from pyimagesearch.io.build import skipped_lines
from pyimagesearch.io.hdf5datasetwriter import HDF5DatasetWriter, check_overwrite
from pyimagesearch.infra.progress import progress_bar
from pyimagesearch.infra.validation import check_int, renamed_keyword

# network name -> keras.applications module holding its preprocess_input
PREPROCESS_MODULES = {
    "vgg16": "vgg16",
    "vgg19": "vgg19",
    "resnet50": "resnet",
    "resnet50v2": "resnet_v2",
    "inceptionv3": "inception_v3",
    "xception": "xception",
    "mobilenetv2": "mobilenet_v2",
    "densenet121": "densenet",
    "efficientnetb0": "efficientnet",
}


@dataclasses.dataclass
class FeatureReport:
    """What `extract_features` wrote.

    Attributes:
        output_path: the HDF5 file.
        count: rows written.
        dims: shape of one feature vector, `(features,)`.
        class_names: class names, indexed by label.
        skipped: paths of the unreadable images (and folders, pipes, ...) left out.
        reasons: path -> why it was skipped.
    """

    output_path: str
    count: int
    dims: tuple
    class_names: list
    skipped: list
    reasons: dict = dataclasses.field(default_factory=dict)

    def summary(self):
        """The lines printed at the end of an extraction: file written, images skipped."""
        lines = [f"[INFO] wrote {self.count} feature vector{'' if self.count == 1 else 's'} "
                 f"of {self.dims[0]} values to {self.output_path}"]
        lines.extend(skipped_lines(self.skipped, self.reasons))
        return "\n".join(lines)


def extract_features(images, output_path, labels=None, label_from="parent",
                     model="vgg16", weights="imagenet", image_size=224,
                     batch_size=32, buf_size=1000, pooling=None, shuffle=True,
                     random_state=42, overwrite=False, verbose=True, follow_links=False,
                     max_pixels=MAX_IMAGE_PIXELS, bufSize=None):
    """Writes a network's flattened features of every image to HDF5.

    The book's `extract_features.py`: the paths are shuffled (seeded), labels
    encoded, images loaded as RGB at `image_size`, prepared with the network's
    `preprocess_input` (for VGG16/ResNet50, `imagenet_utils.preprocess_input`
    as in the book), passed in batches through the network without its
    classifier, flattened and written as `float32` `features` with the labels
    and class names. Images are read by the rule of `build_hdf5_splits`
    (regular files only, decompression bombs and truncated JPEGs skipped and
    listed).

    Args:
        images: a folder (listed recursively) or a sequence of image paths.
        output_path: the HDF5 file to write.
        labels: one label per path; None derives them with `label_from`.
        label_from: "parent" (`{class}/{image}`) or "prefix" (`cat.11866.jpg`).
        model: a `pyimagesearch.nn.applications.APPLICATIONS` name, e.g. "vgg16".
        weights: "imagenet", "none"/None (random, for tests) or a weights file.
        image_size: side of the square network input in pixels.
        batch_size: images per forward pass.
        buf_size: rows the writer buffers before writing.
        bufSize: `buf_size`'s old name (deprecated).
        pooling: None (flatten the last feature map, as the book), "avg" or "max".
        shuffle: whether to shuffle the paths (the book does, so that a
            train/test split by index is random).
        random_state: seed of the shuffle.
        overwrite: whether an existing `output_path` may be replaced.
        verbose: whether to show a progress bar and the final summary.
        follow_links: whether links in the image folder may point outside it
            (see `pyimagesearch.datasets.list_images`).
        max_pixels: images whose header declares more pixels are skipped
            before decoding; None: no limit but OpenCV's.

    Returns:
        A `FeatureReport`.

    Raises:
        FileNotFoundError: `images` is a path that is not a folder, or
            `weights` is a missing file or unavailable ImageNet weights.
        ValueError: no images, unknown `model`, bad sizes, or an existing
            `output_path` without `overwrite`.
    """
    buf_size = renamed_keyword(bufSize, "bufSize", buf_size, "buf_size", 1000, "extract_features")
    from pyimagesearch.nn.applications import build_application

    paths, names, left_out = scan_labelled_images(images, labels, label_from, follow_links)
    check_max_pixels(max_pixels)
    key = str(model).lower()
    if key not in PREPROCESS_MODULES:
        raise ValueError(f"model must be one of {sorted(PREPROCESS_MODULES)}, got {model!r}.")
    image_size = check_int(image_size, "image_size")
    batch_size = check_int(batch_size, "batch_size")
    output_path = os.fspath(output_path)
    check_overwrite(output_path, "output_path", overwrite, remedy="overwrite=True (--overwrite)")
    order = list(range(len(paths)))
    if shuffle:
        random.Random(random_state).shuffle(order)
    paths = [paths[i] for i in order]
    class_names, encoded = np.unique(np.asarray([names[i] for i in order]), return_inverse=True)

    if verbose:
        print(f"[INFO] {len(paths)} images of {len(class_names)} classes; loading {model} "
              f"({'random' if weights is None or str(weights).lower() == 'none' else weights} weights)...",
              flush=True)
    network = build_application(
        key, include_top=False, weights=weights,
        input_shape=(image_size, image_size, 3), pooling=pooling,
    )
    preprocess_input = importlib.import_module(
        f"keras.applications.{PREPROCESS_MODULES[key]}"
    ).preprocess_input
    dims = (int(np.prod(network.output_shape[1:])),)

    skipped, reasons = list(left_out), dict(left_out)
    if verbose:
        print(f"[INFO] extracting {dims[0]} features of each image, {batch_size} images a batch...",
              flush=True)
    # a line every 2% in a log: 10% of a large set can take many minutes
    bar = progress_bar("Extracting features: ", len(paths), verbose, log_step=0.02)
    with HDF5DatasetWriter(
        (len(paths), *dims), output_path, dataKey="features", bufSize=buf_size,
        dtype="float32", overwrite=overwrite,
    ) as writer, concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as threads:
        writer.storeClassLabels(class_names)
        for start in range(0, len(paths), batch_size):
            batch_paths = paths[start:start + batch_size]
            loaded = list(threads.map(lambda p: _load_rgb(p, image_size, max_pixels), batch_paths))
            keep = [i for i, (image, _) in enumerate(loaded) if image is not None]
            for path, (image, reason) in zip(batch_paths, loaded):
                if image is None:
                    skipped.append(path)
                    reasons[path] = reason
            loaded = [image for image, _ in loaded]
            if keep:
                batch = preprocess_input(np.stack([loaded[i] for i in keep]))
                features = np.asarray(network.predict_on_batch(batch))
                writer.add(features.reshape(len(keep), -1), encoded[start:start + batch_size][keep])
            bar.update(start + len(batch_paths))
        bar.finish()
        writer.flush()
        if writer.idx == 0:
            raise ValueError("no readable image: every image failed to decode.")
    count = writer.idx

    report = FeatureReport(
        output_path=output_path, count=count, dims=dims,
        class_names=[str(c) for c in class_names], skipped=skipped, reasons=reasons,
    )
    if verbose:
        print(report.summary())
    return report


def _load_rgb(path, size, max_pixels):
    """Loads an image as a float32 RGB (size, size, 3) array, like `load_img`.

    Returns:
        `(image, None)`, or `(None, reason)` if the file is not read.
    """
    image, reason = read_image_checked(path, cv2.IMREAD_COLOR, max_pixels)
    if image is None:
        return None, reason
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype("float32"), None
