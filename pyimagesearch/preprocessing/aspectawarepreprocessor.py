"""Resize preserving the aspect ratio, then centre-crop to the exact size."""

import math

import cv2
import numpy as np

from pyimagesearch.preprocessing._checks import as_image, check_size, map_images, resize


class AspectAwarePreprocessor:
    """Scales the image so it covers `width x height`, then centre-crops the excess.

    Unlike the book's version, the output is exactly (height, width) for any
    target (square or not) and any input, however small or elongated.

    Args:
        width: target width in pixels.
        height: target height in pixels.
        inter: OpenCV interpolation flag.
    """

    def __init__(self, width, height, inter=cv2.INTER_AREA):
        check_size(width, height, "AspectAwarePreprocessor")
        self.width = width
        self.height = height
        self.inter = inter

    def preprocess(self, image):
        """Returns `image` resized and centre-cropped to (height, width[, C])."""
        image = as_image(image, "AspectAwarePreprocessor")
        (h, w) = image.shape[:2]
        scale = max(self.width / w, self.height / h)
        new_w = max(self.width, math.ceil(w * scale - 1e-6))
        new_h = max(self.height, math.ceil(h * scale - 1e-6))
        if (new_w, new_h) != (w, h):
            image = resize(image, new_w, new_h, self.inter)
        top = (new_h - self.height) // 2
        left = (new_w - self.width) // 2
        return np.ascontiguousarray(image[top : top + self.height, left : left + self.width])

    def preprocess_batch(self, images):
        """Returns an (N, height, width[, C]) batch."""
        return map_images(self.preprocess, images, "AspectAwarePreprocessor")
