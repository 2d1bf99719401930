"""NumpyArrayIterator: the batches of `ImageAugmenter.flow`, as a Keras PyDataset."""

import math

import cv2
import keras
import numpy as np

from pyimagesearch.augmentation.imageaugmenter import save_batch


class NumpyArrayIterator(keras.utils.PyDataset):
    """Augmented batches of in-memory arrays; made by `ImageAugmenter.flow`.

    Indexing gives batch `i` of the current epoch (what `model.fit` uses);
    `next()` and iteration go on forever, epoch after epoch, like Keras 2's
    iterator. Batch `i` of epoch `e` is a function of `(seed, e, i)` only, so
    results do not depend on `workers`.

    Args:
        augmenter: the `ImageAugmenter`.
        x: `(N, H, W)` or `(N, H, W, C)` images.
        y: optional labels with `N` rows.
        batch_size: images per batch.
        shuffle: reshuffle the order every epoch.
        sample_weight: optional `N` weights.
        seed: integer seed.
        save_to_dir: optional folder to also write the augmented images to.
        save_prefix: file-name prefix of saved images.
        save_format: format of saved images.
        **kwargs: `keras.utils.PyDataset` options.

    Raises:
        ValueError: bad shapes, `batch_size` or `save_format`.
    """

    def __init__(self, augmenter, x, y=None, batch_size=32, shuffle=True,
                 sample_weight=None, seed=0, save_to_dir=None, save_prefix="",
                 save_format="jpg", **kwargs):
        super().__init__(**kwargs)
        x = np.asarray(x)
        if x.ndim not in (3, 4) or len(x) == 0:
            raise ValueError(
                f"x must be a non-empty (N, H, W) or (N, H, W, C) array, got shape {x.shape}."
            )
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(x):
                raise ValueError(f"y must have one row per image ({len(x)}), got {len(y)}.")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)
            if sample_weight.shape != (len(x),):
                raise ValueError(
                    f"sample_weight must have shape ({len(x)},), got {sample_weight.shape}."
                )
        if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if save_to_dir is not None and not cv2.haveImageWriter(f"image.{save_format}"):
            raise ValueError(f"save_format must be an image format OpenCV writes, got {save_format!r}.")
        self.augmenter = augmenter
        self.x = x
        self.y = y
        self.sample_weight = sample_weight
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        self.n = len(x)
        self.epoch = 0
        self._cursor = 0
        self._order = self._make_order()

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches.")
        index %= len(self)
        rows = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        images = self.augmenter._augment_rows(self.x, rows, (self.seed, self.epoch, index))
        if self.save_to_dir is not None:
            save_batch(images, self.save_to_dir, self.save_prefix, self.save_format,
                       start=self.epoch * self.n + index * self.batch_size)
        if self.y is None:
            return images
        if self.sample_weight is None:
            return images, self.y[rows]
        return images, self.y[rows], self.sample_weight[rows]

    def on_epoch_end(self):
        """Starts the next epoch: a new order when shuffling, new augmentation."""
        self.epoch += 1
        self._cursor = 0
        self._order = self._make_order()

    def __iter__(self):
        return self

    def __next__(self):
        if self._cursor >= len(self):
            self.on_epoch_end()
        batch = self[self._cursor]
        self._cursor += 1
        return batch

    def _make_order(self):
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng((self.seed, self.epoch)).permutation(self.n)
