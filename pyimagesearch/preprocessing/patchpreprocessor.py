"""Random fixed-size crops (the book's training-time patches)."""

import numpy as np

from pyimagesearch.preprocessing._checks import as_batch, as_image, check_fits, check_size
from pyimagesearch.utils.processrng import ProcessLocalRNG


class PatchPreprocessor:
    """Extracts one uniformly random `width x height` patch per image.

    Every valid position, the last one included, is equally likely. Slicing
    costs as much as the patch itself, unlike the book's
    `extract_patches_2d(image, size, max_patches=1)`, which builds a view of
    every possible patch first.

    Args:
        width: patch width in pixels.
        height: patch height in pixels.
        seed: seed of the random generator (None: fresh entropy). Each
            worker process draws its own patches (see `ProcessLocalRNG`).
    """

    def __init__(self, width, height, seed=None):
        check_size(width, height, "PatchPreprocessor")
        self.width = width
        self.height = height
        self._rng = ProcessLocalRNG(seed)

    @property
    def rng(self):
        """The `numpy.random.Generator` of the current process."""
        return self._rng.generator()

    def _offsets(self, image_shape, count):
        check_fits(image_shape, self.width, self.height, "PatchPreprocessor")
        (h, w) = image_shape[:2]
        rng = self._rng.generator()
        ys = rng.integers(0, h - self.height + 1, size=count)
        xs = rng.integers(0, w - self.width + 1, size=count)
        return ys, xs

    def preprocess(self, image):
        """Returns one random (height, width[, C]) patch of `image`."""
        image = as_image(image, "PatchPreprocessor")
        ys, xs = self._offsets(image.shape, 1)
        y, x = ys[0], xs[0]
        return image[y : y + self.height, x : x + self.width].copy()

    def preprocess_batch(self, images):
        """Returns an (N, height, width[, C]) batch, one random patch per image."""
        images = as_batch(images, "PatchPreprocessor")
        ys, xs = self._offsets(images.shape[1:], len(images))
        out = np.empty((len(images), self.height, self.width) + images.shape[3:], images.dtype)
        for i, (y, x) in enumerate(zip(ys, xs)):
            out[i] = images[i, y : y + self.height, x : x + self.width]
        return out
