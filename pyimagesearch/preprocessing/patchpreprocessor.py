"""Random fixed-size crops (the book's training-time patches)."""

import numpy as np

from pyimagesearch.preprocessing._checks import as_batch, as_image, check_fits, check_size
from pyimagesearch.infra.processrng import RandomSource


class PatchPreprocessor:
    """Extracts one uniformly random `width x height` patch per image.

    Every valid position, the last one included, is equally likely. Slicing
    costs as much as the patch itself, unlike the book's
    `extract_patches_2d(image, size, max_patches=1)`, which builds a view of
    every possible patch first.

    Args:
        width: patch width in pixels.
        height: patch height in pixels.
        seed: seed of the random draws (None: fresh entropy). Batch `b` of
            epoch `e` served by `HDF5DatasetGenerator` is cropped from
            `(seed, e, b)` in any process (see `pyimagesearch.infra.processrng`).
    """

    draws_by_key = True

    def __init__(self, width, height, seed=None):
        check_size(width, height, "PatchPreprocessor")
        self.width = width
        self.height = height
        self._rng = RandomSource(seed)

    def _offsets(self, image_shape, count, key=None):
        check_fits(image_shape, self.width, self.height, "PatchPreprocessor")
        (h, w) = image_shape[:2]
        rng = self._rng.generator(key)
        ys = rng.integers(0, h - self.height + 1, size=count)
        xs = rng.integers(0, w - self.width + 1, size=count)
        return ys, xs

    def preprocess(self, image, key=None):
        """Returns one random (height, width[, C]) patch of `image`.

        Args:
            image: an `(H, W[, C])` image.
            key: optional tuple of integers (such as `(epoch, batch, row)`)
                the patch is drawn from; by default the next keyless draw.
        """
        image = as_image(image, "PatchPreprocessor")
        ys, xs = self._offsets(image.shape, 1, key)
        y, x = ys[0], xs[0]
        return image[y : y + self.height, x : x + self.width].copy()

    def preprocess_batch(self, images, key=None):
        """Returns an (N, height, width[, C]) batch, one random patch per image.

        Args:
            images: an `(N, H, W[, C])` batch.
            key: optional `(epoch, batch)` the patches are drawn from; by
                default the next keyless draw.
        """
        images = as_batch(images, "PatchPreprocessor")
        ys, xs = self._offsets(images.shape[1:], len(images), key)
        out = np.empty((len(images), self.height, self.width) + images.shape[3:], images.dtype)
        for i, (y, x) in enumerate(zip(ys, xs)):
            out[i] = images[i, y : y + self.height, x : x + self.width]
        return out
