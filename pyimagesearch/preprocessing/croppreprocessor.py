"""The book's 10-crop over-sampling: four corners, centre, and their mirrors."""

import cv2
import numpy as np

from pyimagesearch.preprocessing._checks import as_batch, as_image, check_fits, check_size, resize


class CropPreprocessor:
    """Produces the corner and centre crops of an image, plus their mirrors.

    Crops come in the book's order: top-left, top-right, bottom-right,
    bottom-left, centre, then the horizontal mirrors of those five.

    Args:
        width: crop width in pixels.
        height: crop height in pixels.
        horiz: whether to append the five mirrored crops (10 crops, else 5).
        inter: OpenCV interpolation used when the centre crop needs resizing
            (its size is off by one when the margin is odd, as in the book).
    """

    def __init__(self, width, height, horiz=True, inter=cv2.INTER_AREA):
        check_size(width, height, "CropPreprocessor")
        self.width = width
        self.height = height
        self.horiz = horiz
        self.inter = inter

    def _windows(self, image_shape):
        check_fits(image_shape, self.width, self.height, "CropPreprocessor")
        (h, w) = image_shape[:2]
        dW = int(0.5 * (w - self.width))
        dH = int(0.5 * (h - self.height))
        return [
            (0, 0, self.width, self.height),
            (w - self.width, 0, w, self.height),
            (w - self.width, h - self.height, w, h),
            (0, h - self.height, self.width, h),
            (dW, dH, w - dW, h - dH),
        ]

    def _crop_axis(self, images, crop_axis):
        """Crops `images` (spatial axes start at `crop_axis`) into a list of five."""
        crops = []
        for (x0, y0, x1, y1) in self._windows(images.shape[crop_axis:]):
            index = (slice(None),) * crop_axis + (slice(y0, y1), slice(x0, x1))
            crop = images[index]
            if crop.shape[crop_axis : crop_axis + 2] != (self.height, self.width):
                crop = self._resize(crop, crop_axis)
            crops.append(crop)
        return crops

    def _resize(self, crop, crop_axis):
        if crop_axis == 0:
            return resize(crop, self.width, self.height, self.inter)
        return np.stack([resize(c, self.width, self.height, self.inter) for c in crop])

    def preprocess(self, image):
        """Returns the crops of one image: (10, height, width[, C]), or 5 if not `horiz`."""
        image = as_image(image, "CropPreprocessor")
        crops = np.stack(self._crop_axis(image, 0))
        if self.horiz:
            crops = np.concatenate([crops, crops[:, :, ::-1]])
        return crops

    def preprocess_batch(self, images):
        """Returns the crops of a batch: (N, 10, height, width[, C]), or 5 if not `horiz`."""
        images = as_batch(images, "CropPreprocessor")
        crops = np.stack(self._crop_axis(images, 1), axis=1)
        if self.horiz:
            crops = np.concatenate([crops, crops[:, :, :, ::-1]], axis=1)
        return crops
