"""NumpyArrayIterator: the batches of `ImageAugmenter.flow`, as a Keras PyDataset."""

import math
import os
import secrets
import sys
import warnings

import cv2
import keras
import numpy as np

from pyimagesearch.infra.validation import check_choice, check_int

TESTED_KERAS = "3.15"
SAVE_ORDERS = ("RGB", "BGR")


class NumpyArrayIterator(keras.utils.PyDataset):
    """Augmented batches of in-memory arrays; made by `ImageAugmenter.flow`.

    Indexing gives batch `i` of the current epoch (what `model.fit` uses);
    `next()` and iteration go on forever, epoch after epoch, like Keras 2's
    iterator. Batch `i` of epoch `e` is a function of `(seed, e, i)` only, so
    results do not depend on `workers`.

    `model.fit(flow, steps_per_epoch=S)` (the book's call) trains on an endless
    stream, as Keras 2 did: every epoch is exactly `S` full batches, drawn
    without repeats from a shuffled pass over the data until the pass is used
    up, then from the next pass. Without `steps_per_epoch` an epoch is
    `len(flow) = ceil(N / batch_size)` batches and shows every image once.

    `repeat` says which of the two Keras reads: `True` is the endless stream
    (`num_batches` is None, Keras' `steps_per_epoch` ends each epoch),
    `False` one pass per epoch (`num_batches == len(flow)`; with
    `steps_per_epoch` below `len(flow)` Keras 3 then runs short epochs), and
    `None` (the default) picks the stream while a Keras loop with
    `steps_per_epoch` reads the flow: `num_batches` looks up the call stack
    for Keras' `EpochIterator` (tested on Keras 3.15). If a Keras loop reads the
    flow and the iterator is not found, the flow warns once and runs one pass
    per epoch; pass `repeat=` to choose without the look-up. With `repeat`
    given, `flow[i]` is a function of `(seed, epoch, i)` only; with `None`,
    `flow[i]` follows the kind of the Keras loop that set up on the flow last.

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
        save_order: channel order of the images `save_to_dir` writes: "RGB"
            (the default, Keras' `array_to_img`: the book's `load_img` arrays
            are saved in their true colours) or "BGR" (arrays read with
            OpenCV's `cv2.imread`).
        repeat: `True` (endless stream), `False` (one pass per epoch) or
            `None` (the stream while Keras' `steps_per_epoch` is set).
        **kwargs: `keras.utils.PyDataset` options.

    Raises:
        ValueError: bad shapes, `batch_size`, `save_prefix`, `save_format`
            or `repeat`.
    """

    def __init__(self, augmenter, x, y=None, batch_size=32, shuffle=True,
                 sample_weight=None, seed=0, save_to_dir=None, save_prefix="",
                 save_format="jpg", save_order="RGB", repeat=None, **kwargs):
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
        batch_size = check_int(batch_size, "batch_size")
        if save_to_dir is not None and not cv2.haveImageWriter(f"image.{save_format}"):
            raise ValueError(f"save_format must be an image format OpenCV writes, got {save_format!r}.")
        if not isinstance(save_prefix, str) or any(
                sep in save_prefix for sep in (os.sep, os.altsep, "/") if sep):
            raise ValueError(
                "save_prefix must be a file-name prefix without a path separator "
                f"(files go into save_to_dir), got {save_prefix!r}."
            )
        check_choice(save_order, "save_order", SAVE_ORDERS)
        if repeat is not None and not isinstance(repeat, bool):
            raise ValueError(f"repeat must be True, False or None, got {repeat!r}.")
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
        self.save_order = save_order
        self.n = len(x)
        self.epoch = 0
        self._stream_start = 0
        self._cursor = 0
        self._order = self._make_order()
        self.repeat = repeat
        self._endless = bool(repeat)
        self._detected = False  # a Keras EpochIterator was found (repeat=None)
        self._warned = False
        self._pass_orders = {}

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    @property
    def num_batches(self):
        """`None` for the endless stream, else `len(flow)`; see `repeat`.

        Keras 3 restarts a finite dataset only once all its batches are used, so
        with the book's `steps_per_epoch = N // batch_size` every second epoch
        would be one batch long. With `repeat=None` the flow therefore asks the
        Keras loop that sets up on it whether it was given `steps_per_epoch`,
        and is endless then. Reads from outside Keras change nothing.
        """
        if self.repeat is None:
            caller = _keras_epoch_iterator()
            if caller is not None:
                (self._endless, self._detected) = (bool(caller.steps_per_epoch), True)
            elif not self._detected and _read_by_keras():
                self._warn_undetected()
        if sys._getframe(1).f_code.co_name == "get_data_adapter":
            return len(self)  # only decides Keras' "shuffle ignored" warning; the flow shuffles
        return None if self._endless else len(self)

    def _warn_undetected(self):
        if self._warned:
            return
        self._warned = True
        warnings.warn(
            f"ImageAugmenter.flow: Keras {keras.__version__} read the flow, but its "
            f"EpochIterator was not found up the call stack (the look-up is tested on "
            f"Keras {TESTED_KERAS}), so every epoch is one pass of len(flow) batches, and "
            "fit(steps_per_epoch=S) below len(flow) gets short epochs. Pass "
            "flow(..., repeat=True) for the endless stream that steps_per_epoch cuts into "
            "epochs (the book's call), or repeat=False for one pass per epoch.",
            stacklevel=3,
        )

    def __getitem__(self, index):
        if self._endless:
            return self._stream_batch(index)
        return self._epoch_batch(index)

    def _epoch_batch(self, index):
        """Batch `index` of the current epoch; the last one is short when N % batch_size."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches.")
        index %= len(self)
        rows = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        return self._batch(rows, (self.seed, self.epoch, index),
                           start=self.epoch * self.n + index * self.batch_size)

    def _stream_batch(self, index):
        """Batch `index` of the endless stream: full batches over successive passes."""
        if index < 0:
            raise IndexError(f"batch index {index} out of range for an endless flow.")
        index += self._stream_start
        positions = np.arange(index * self.batch_size, (index + 1) * self.batch_size)
        (passes, offsets) = np.divmod(positions, self.n)
        rows = np.empty(self.batch_size, np.int64)
        for number in np.unique(passes):
            chosen = passes == number
            rows[chosen] = self._pass_order(int(number))[offsets[chosen]]
        return self._batch(rows, (self.seed, 2**63 - 1, index), start=index * self.batch_size)

    def _pass_order(self, number):
        if number not in self._pass_orders:
            if len(self._pass_orders) > 4:
                self._pass_orders.pop(min(self._pass_orders))
            self._pass_orders[number] = self._make_order(number)
        return self._pass_orders[number]

    def _batch(self, rows, seed, start):
        images = self.augmenter.augment_rows(self.x, rows, seed)
        if self.save_to_dir is not None:
            save_batch(images, self.save_to_dir, self.save_prefix, self.save_format, start=start,
                       order=self.save_order)
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

    def set_epoch(self, epoch, steps_per_epoch=None):
        """Serves epoch `epoch` (0-based) next, as the uninterrupted run would.

        A run resumed from the checkpoint of epoch `k` calls `set_epoch(k)`
        before `model.fit(..., initial_epoch=k)`, or `set_epoch(k, S)` with
        the book's `steps_per_epoch=S` (the endless stream then continues at
        its batch `k * S`): with the same seed, its batches are the
        uninterrupted run's.

        Args:
            epoch: a non-negative integer.
            steps_per_epoch: the `steps_per_epoch` given to `fit`, if any.

        Raises:
            ValueError: `epoch` or `steps_per_epoch` is not a non-negative integer.
        """
        epoch = check_int(epoch, "epoch", minimum=0)
        steps_per_epoch = check_int(steps_per_epoch or 0, "steps_per_epoch", minimum=0)
        self.epoch = epoch
        self._stream_start = epoch * steps_per_epoch
        self._cursor = 0
        self._order = self._make_order()

    def __iter__(self):
        return self

    def __next__(self):
        if self._cursor >= len(self):
            self.on_epoch_end()
        batch = self._epoch_batch(self._cursor)
        self._cursor += 1
        return batch

    def _make_order(self, number=None):
        """The row order of epoch (or endless pass) `number`, the current epoch by default."""
        if not self.shuffle:
            return np.arange(self.n)
        number = self.epoch if number is None else number
        return np.random.default_rng((self.seed, number)).permutation(self.n)


def _read_by_keras(depth=40):
    """Whether Keras' own code is up the call stack (a Keras loop reads the flow)."""
    frame = sys._getframe(2)
    while frame is not None and depth > 0:
        if frame.f_globals.get("__name__", "").startswith("keras."):
            return True
        (frame, depth) = (frame.f_back, depth - 1)
    return False


def _keras_epoch_iterator(depth=40):
    """The Keras `EpochIterator` being built or reset up the call stack, if any."""
    frame = sys._getframe(2)
    while frame is not None and depth > 0:
        code = frame.f_code
        if code.co_argcount and code.co_varnames[0] == "self":
            owner = frame.f_locals.get("self")
            if any(cls.__name__ == "EpochIterator" for cls in type(owner).__mro__) \
                    and hasattr(owner, "steps_per_epoch"):
                return owner
        (frame, depth) = (frame.f_back, depth - 1)
    return None


def save_batch(images, folder, prefix, save_format, start, order="RGB"):
    """Writes a batch of images as `{prefix}_{index}_{random}.{format}`, as Keras does.

    `index` counts from `start`; the random part keeps a second run from
    overwriting the first one's files. Non-`uint8` images are scaled to 0-255
    by their own minimum and maximum, as Keras' `array_to_img` does.

    Args:
        order: "RGB" (Keras' behaviour, the book's) or "BGR" (OpenCV arrays).

    Raises:
        ValueError: OpenCV could not write a file.
    """
    os.makedirs(folder, exist_ok=True)
    for (i, image) in enumerate(images):
        if image.dtype != np.uint8:
            image = image.astype(np.float64)
            image = image - image.min()
            top = image.max()
            image = np.clip(image * (255.0 / top if top > 0 else 0.0), 0, 255).astype(np.uint8)
        if order == "RGB" and image.ndim == 3 and image.shape[-1] in (3, 4):
            image = image[..., [2, 1, 0, 3][:image.shape[-1]]]  # OpenCV writes BGR(A)
        name = f"{prefix}_{start + i}_{secrets.randbelow(10**7)}.{save_format}"
        if not cv2.imwrite(os.path.join(folder, name), image):
            raise ValueError(f"could not write {name!r} to save_to_dir {folder!r}.")
