"""Resize along the shorter side keeping the aspect ratio, crop the centre, resize to size."""

import cv2
import numpy as np

from pyimagesearch.preprocessing._checks import as_image, check_size, map_images, resize


class AspectAwarePreprocessor:
    """The book's aspect-aware resize, pixel for pixel.

    The shorter side of the image is resized to the target's (the other side
    keeps the aspect ratio, truncated to an integer as `imutils.resize` does),
    the centre is cropped with the book's `int((new - target) / 2.0)` margins,
    and the crop is resized to exactly `(height, width)`. Any input size and
    aspect works, however small or elongated.

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
        (dW, dH) = (0, 0)
        # imutils.resize: ratio = target / float(side), other side int(other * ratio)
        if w < h:
            (new_w, new_h) = (self.width, int(h * (self.width / float(w))))
            dH = int((new_h - self.height) / 2.0)
        else:
            (new_w, new_h) = (int(w * (self.height / float(h))), self.height)
            dW = int((new_w - self.width) / 2.0)
        image = resize(image, new_w, new_h, self.inter)
        # the book's slice, negative margins (target taller than the resize) included
        image = image[dH:new_h - dH, dW:new_w - dW]
        if image.shape[:2] == (self.height, self.width):
            return np.ascontiguousarray(image)  # cv2.resize to the same size only copies
        return resize(image, self.width, self.height, self.inter)

    def preprocess_batch(self, images):
        """Returns an (N, height, width[, C]) batch."""
        return map_images(self.preprocess, images, "AspectAwarePreprocessor")
