"""Per-channel mean subtraction for BGR images."""

import json

import numpy as np

from pyimagesearch.preprocessing._checks import as_batch, as_image


class MeanPreprocessor:
    """Subtracts the dataset's per-channel means from BGR images.

    Args:
        rMean: mean of the red channel.
        gMean: mean of the green channel.
        bMean: mean of the blue channel.
    """

    def __init__(self, rMean, gMean, bMean):
        means = []
        for name, value in (("rMean", rMean), ("gMean", gMean), ("bMean", bMean)):
            if np.ndim(value) != 0:
                raise ValueError(f"MeanPreprocessor: {name} must be a scalar, got shape {np.shape(value)}.")
            means.append(float(value))
        self.rMean, self.gMean, self.bMean = means
        self._bgr = np.array([self.bMean, self.gMean, self.rMean], dtype="float32")

    @classmethod
    def from_json(cls, path):
        """Builds the preprocessor from the book's means file `{"R": .., "G": .., "B": ..}`.

        Args:
            path: path of the JSON file.

        Returns:
            A `MeanPreprocessor`.
        """
        with open(path) as handle:
            means = json.load(handle)
        missing = {"R", "G", "B"} - set(means)
        if missing:
            raise ValueError(f"means file {path!r} lacks the keys {sorted(missing)}.")
        return cls(means["R"], means["G"], means["B"])

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
        return self._subtract(images)

    def _subtract(self, images):
        out = np.empty(images.shape, dtype="float32")
        width = images.shape[-2]
        # one pass that converts and subtracts; numpy broadcasts a length-3 vector
        # slowly, a row-long tiled vector is ~4x faster. `out` is C order, so its
        # reshape is a view (a flipped or transposed input is copied by its reshape)
        np.subtract(images.reshape(-1, width * 3), np.tile(self._bgr, width),
                    out=out.reshape(-1, width * 3), dtype="float32")
        return out
