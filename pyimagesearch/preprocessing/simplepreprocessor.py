"""Resize to a fixed size, ignoring the aspect ratio."""

import cv2

from pyimagesearch.preprocessing._checks import as_image, check_size, map_images, resize


class SimplePreprocessor:
    """Resizes images to `width x height`, ignoring the aspect ratio.

    Args:
        width: target width in pixels.
        height: target height in pixels.
        inter: OpenCV interpolation flag.
    """

    def __init__(self, width, height, inter=cv2.INTER_AREA):
        check_size(width, height, "SimplePreprocessor")
        self.width = width
        self.height = height
        self.inter = inter

    def preprocess(self, image):
        """Returns `image` resized to (height, width[, C]), dtype unchanged."""
        image = as_image(image, "SimplePreprocessor")
        return resize(image, self.width, self.height, self.inter)

    def preprocess_batch(self, images):
        """Returns an (N, height, width[, C]) batch of resized images."""
        return map_images(self.preprocess, images, "SimplePreprocessor")
