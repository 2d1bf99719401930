"""Keras-ready float32 arrays in the configured channel order."""

import numpy as np

from pyimagesearch.preprocessing._checks import as_batch, as_image

_FORMATS = ("channels_last", "channels_first")


class ImageToArrayPreprocessor:
    """Converts images to float32 arrays with an explicit channel axis.

    Args:
        dataFormat: "channels_last" or "channels_first"; None reads
            `keras.config.image_data_format()` at call time.
    """

    def __init__(self, dataFormat=None):
        if dataFormat is not None and dataFormat not in _FORMATS:
            raise ValueError(f"dataFormat must be one of {_FORMATS} or None, got {dataFormat!r}.")
        self.dataFormat = dataFormat

    def _format(self):
        if self.dataFormat:
            return self.dataFormat
        import keras  # here, so that importing preprocessors in worker processes stays light

        return keras.config.image_data_format()

    def preprocess(self, image):
        """Returns a float32 (H, W, C) or (C, H, W) array."""
        image = as_image(image, "ImageToArrayPreprocessor").astype("float32", copy=False)
        if image.ndim == 2:
            image = image[:, :, np.newaxis]
        if self._format() == "channels_first":
            image = np.ascontiguousarray(image.transpose(2, 0, 1))
        return image

    def preprocess_batch(self, images):
        """Returns a float32 (N, H, W, C) or (N, C, H, W) batch."""
        images = as_batch(images, "ImageToArrayPreprocessor").astype("float32", copy=False)
        if images.ndim == 3:
            images = images[..., np.newaxis]
        if self._format() == "channels_first":
            images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        return images
