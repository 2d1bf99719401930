"""Per-channel mean subtraction for BGR images."""

import json
import math
import os

import numpy as np

from pyimagesearch.infra.batchmemory import BatchMemory
from pyimagesearch.preprocessing._checks import as_batch, as_image


# the mean of an 8-bit channel lies in [0, 255]; anything else is not a mean of such images
MEAN_RANGE = (0.0, 255.0)


def check_mean(value, name, where, remedy=""):
    """Returns `value` as a float when it can be the mean of an 8-bit channel.

    Args:
        value: the mean.
        name: its name in messages ("rMean", "mean R").
        where: what holds it, in messages ("MeanPreprocessor", a file).
        remedy: what to do, appended to the message ("; rebuild ...").

    Raises:
        ValueError: `value` is not a finite number in `[0, 255]` (a NaN
            would turn every batch into NaN; 1e39 overflows float32 to
            infinity).
    """
    try:
        number = float(value) if np.ndim(value) == 0 and not isinstance(value, (bool, str, bytes)) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and MEAN_RANGE[0] <= number <= MEAN_RANGE[1]):
        raise ValueError(f"{where}: {name} must be a finite number in [0, 255] (the mean of an "
                         f"8-bit channel), got {value!r}{remedy}.")
    return number


class MeanPreprocessor:
    """Subtracts the dataset's per-channel means from BGR images.

    Args:
        rMean: mean of the red channel.
        gMean: mean of the green channel.
        bMean: mean of the blue channel.

    Raises:
        ValueError: a mean that is not a scalar, or not a finite number in
            `[0, 255]` (no 8-bit image has another mean).
    """

    def __init__(self, rMean, gMean, bMean):
        means = []
        for name, value in (("rMean", rMean), ("gMean", gMean), ("bMean", bMean)):
            if np.ndim(value) != 0:
                raise ValueError(f"MeanPreprocessor: {name} must be a scalar, got shape {np.shape(value)}.")
            means.append(check_mean(value, name, "MeanPreprocessor"))
        self.rMean, self.gMean, self.bMean = means
        self._bgr = np.array([self.bMean, self.gMean, self.rMean], dtype="float32")
        # float32 batches are 4x the uint8 read: fresh pages for each cost the kernel's zeroing
        self._memory = BatchMemory(keep=2)

    @classmethod
    def from_json(cls, path):
        """Builds the preprocessor from the book's means file `{"R": .., "G": .., "B": ..}`.

        Args:
            path: path of the JSON file.

        Returns:
            A `MeanPreprocessor`.

        Raises:
            FileNotFoundError: `path` does not exist.
            ValueError: the file is not JSON, lacks one of the keys R, G, B,
                or holds a mean that is not a finite number in `[0, 255]`.
        """
        return cls(*read_means_json(path))

    def _check_channels(self, shape):
        if len(shape) < 3 or shape[-1] != 3:
            raise ValueError(
                f"MeanPreprocessor expects 3-channel BGR images (3 means), got shape {shape}."
            )

    def preprocess(self, image):
        """Returns the float32 (H, W, 3) image minus the BGR means."""
        image = as_image(image, "MeanPreprocessor")
        self._check_channels(image.shape)
        return self._subtract(image)

    def preprocess_batch(self, images):
        """Returns the float32 (N, H, W, 3) batch minus the BGR means."""
        images = as_batch(images, "MeanPreprocessor")
        self._check_channels(images.shape)
        return self._subtract(images, self._memory.empty(images.shape, np.float32))

    def _subtract(self, images, out=None):
        out = np.empty(images.shape, dtype="float32") if out is None else out
        width = images.shape[-2]
        # the cast, then the subtraction in place: numpy's plain casting copy and a
        # float32 subtraction beat one mixed-type pass (its buffered casting) by ~15%;
        # numpy broadcasts a length-3 vector slowly, a row-long tiled vector is ~4x
        # faster. `out` is C order, so its reshape is a view (a flipped or transposed
        # input is copied by its reshape)
        rows = out.reshape(-1, width * 3)
        rows[...] = images.reshape(-1, width * 3)
        np.subtract(rows, np.tile(self._bgr, width), out=rows)
        return out


def read_means_json(path):
    """Reads the book's means file `{"R": .., "G": .., "B": ..}`, refusing what is not a finite number.

    Python's `json` accepts `NaN`, `Infinity` and `1e999` (infinity) as numbers;
    a mean of either would turn every batch into NaN, so they are refused here,
    naming the file.

    Args:
        path: path of the JSON file written by the dataset builder.

    Returns:
        `(R, G, B)` as floats.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file is not a JSON object, lacks one of the keys R, G,
            B, or holds a mean that is not a finite number in `[0, 255]`
            (`R=1e39` would become an infinite float32 mean).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"means file {path!r} does not exist.")
    try:
        with open(path, encoding="utf-8") as handle:
            means = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"means file {path!r} is not valid JSON ({error}).") from None
    if not isinstance(means, dict):
        raise ValueError(f"means file {path!r} must hold a JSON object with keys R, G, B.")
    missing = {"R", "G", "B"} - set(means)
    if missing:
        raise ValueError(f"means file {path!r} lacks the keys {sorted(missing)}.")
    values = []
    for key in ("R", "G", "B"):
        value = means[key]
        values.append(check_mean(value, f"mean {key}", f"means file {path!r}",
                                 "; rebuild the dataset to write its means again"))
    return tuple(values)
