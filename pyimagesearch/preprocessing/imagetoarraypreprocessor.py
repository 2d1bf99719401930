"""Keras-ready arrays (float32 by default) in the configured channel order."""

import numpy as np

from pyimagesearch.preprocessing._checks import as_batch, as_image
from pyimagesearch.infra.validation import check_choice

_FORMATS = ("channels_last", "channels_first")


class ImageToArrayPreprocessor:
    """Converts images to float32 arrays with an explicit channel axis.

    Args:
        dataFormat: "channels_last" or "channels_first"; None reads
            `keras.config.image_data_format()` at call time.
        dtype: output dtype, "float32" as in the book; None keeps the input's
            dtype (the uint8 path, where the model casts and scales).

    Raises:
        ValueError: an unknown `dataFormat` or a `dtype` numpy does not know.
    """

    def __init__(self, dataFormat=None, dtype="float32"):
        check_choice(dataFormat, "dataFormat", (*_FORMATS, None))
        if dtype is not None:
            try:
                dtype = np.dtype(dtype)
            except TypeError as error:
                raise ValueError(f"dtype must be a numpy dtype or None, got {dtype!r}.") from error
        self.dataFormat = dataFormat
        self.dtype = dtype

    def _format(self):
        if self.dataFormat:
            return self.dataFormat
        import keras  # here, so that importing preprocessors in worker processes stays light

        return keras.config.image_data_format()

    def preprocess(self, image):
        """Returns an (H, W, C) or (C, H, W) array, float32 unless `dtype` says otherwise."""
        image = self._cast(as_image(image, "ImageToArrayPreprocessor"))
        if image.ndim == 2:
            image = image[:, :, np.newaxis]
        if self._format() == "channels_first":
            image = np.ascontiguousarray(image.transpose(2, 0, 1))
        return image

    def preprocess_batch(self, images):
        """Returns an (N, H, W, C) or (N, C, H, W) batch, float32 unless `dtype` says otherwise."""
        images = self._cast(as_batch(images, "ImageToArrayPreprocessor"))
        if images.ndim == 3:
            images = images[..., np.newaxis]
        if self._format() == "channels_first":
            images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        return images

    def _cast(self, array):
        return array if self.dtype is None else array.astype(self.dtype, copy=False)
