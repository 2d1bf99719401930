"""ImageAugmenter: Keras 2's ImageDataGenerator, one OpenCV warp per image."""

import math
import numbers

import cv2
import numpy as np

from pyimagesearch.infra.processrng import RandomSource
from pyimagesearch.infra.validation import check_choice, check_number

FILL_MODES = {
    "nearest": cv2.BORDER_REPLICATE,
    "constant": cv2.BORDER_CONSTANT,
    "reflect": cv2.BORDER_REFLECT,
    "wrap": cv2.BORDER_WRAP,
}
_WARP_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)


class ImageAugmenter:
    """Random affine augmentation with `ImageDataGenerator`'s parameters.

    Rotation, shift, shear, zoom and flips are composed into one affine matrix
    per image and applied with a single `cv2.warpAffine` (bilinear), so
    `uint8` images stay `uint8` and the shape is kept. Images are
    channels-last: `(H, W)` or `(H, W, C)` with any number of channels.

    Args:
        rotation_range: degrees; the angle is drawn from
            `[-rotation_range, rotation_range]`.
        width_shift_range: horizontal shift. A float below 1 is a fraction of
            the width, drawn from `[-r, r)`; a float >= 1 is pixels drawn from
            `[-r, r)`; an int is whole pixels from the open interval `(-r, r)`;
            a list or tuple holds the allowed values (fractions when all < 1).
        height_shift_range: vertical shift, as `width_shift_range`.
        shear_range: shear angle in degrees, drawn from `[-r, r]`.
        zoom_range: a float `z` for `[1 - z, 1 + z]`, or a `(lower, upper)`
            pair; horizontal and vertical factors are drawn independently.
            As in Keras, a factor above 1 zooms out.
        horizontal_flip: mirror half of the images left-right.
        vertical_flip: mirror half of the images top-bottom.
        fill_mode: how points outside the image are filled: `"nearest"`,
            `"constant"` (with `cval`), `"reflect"` or `"wrap"`.
        cval: fill value for `fill_mode="constant"`.
        seed: seed of the random draws, for reproducible augmentation. Batch
            `b` of epoch `e` served by `HDF5DatasetGenerator` is augmented
            from `(seed, e, b)` in any process (see
            `pyimagesearch.infra.processrng`).

    Raises:
        ValueError: a negative range, a bad zoom range or an unknown fill mode.
    """

    def __init__(
        self,
        rotation_range=0.0,
        width_shift_range=0.0,
        height_shift_range=0.0,
        shear_range=0.0,
        zoom_range=0.0,
        horizontal_flip=False,
        vertical_flip=False,
        fill_mode="nearest",
        cval=0.0,
        seed=None,
    ):
        self.rotation_range = _non_negative(rotation_range, "rotation_range")
        self.shear_range = _non_negative(shear_range, "shear_range")
        self.width_shift_range = _shift_range(width_shift_range, "width_shift_range")
        self.height_shift_range = _shift_range(height_shift_range, "height_shift_range")
        self.zoom_range = _zoom_range(zoom_range)
        self.horizontal_flip = bool(horizontal_flip)
        self.vertical_flip = bool(vertical_flip)
        self.fill_mode = check_choice(fill_mode, "fill_mode", sorted(FILL_MODES))
        if not isinstance(cval, numbers.Real):
            raise ValueError(f"cval must be a number, got {cval!r}.")
        self.cval = float(cval)
        self._rng = RandomSource(seed)
        self.seed = seed

    def get_random_transform(self, img_shape, seed=None):
        """Draws the parameters of one random transform (Keras' method).

        Args:
            img_shape: shape of the image, `(H, W)` or `(H, W, C)`.
            seed: optional seed for this draw.

        Returns:
            A dict with `theta` (degrees), `tx`, `ty` (horizontal and vertical
            shift in pixels), `shear` (degrees), `zx`, `zy` (zoom factors),
            `flip_horizontal` and `flip_vertical`.
        """
        params = self._draw(1, img_shape[0], img_shape[1], self._generator(seed))
        return {key: value[0].item() for (key, value) in params.items()}

    def apply_transform(self, x, transform_parameters):
        """Applies given transform parameters to one image (Keras' method).

        Args:
            x: one image, `(H, W)` or `(H, W, C)`.
            transform_parameters: a dict as returned by `get_random_transform`;
                missing keys mean no change.

        Returns:
            The transformed image, with `x`'s shape and dtype.
        """
        x = _as_image(x, "x")
        defaults = {"theta": 0.0, "tx": 0.0, "ty": 0.0, "shear": 0.0, "zx": 1.0,
                    "zy": 1.0, "flip_horizontal": False, "flip_vertical": False}
        params = {key: np.array([transform_parameters.get(key, value)])
                  for (key, value) in defaults.items()}
        matrix = affine_matrices(params, x.shape[0], x.shape[1])[0]
        return self._warp(x, matrix)

    def random_transform(self, x, seed=None):
        """Returns one randomly augmented copy of an image (Keras' method).

        Args:
            x: one image, `(H, W)` or `(H, W, C)`.
            seed: optional seed for this image.

        Returns:
            The augmented image, with `x`'s shape and dtype.
        """
        x = _as_image(x, "x")
        return self.augment_batch(x[np.newaxis], seed=seed)[0]

    draws_by_key = True

    def augment_batch(self, images, seed=None, key=None):
        """Returns a randomly augmented copy of every image of a batch.

        Args:
            images: `(N, H, W)` or `(N, H, W, C)` array.
            seed: optional seed for this batch; by default the augmenter's own
                draws are used (seeded by `seed` at construction).
            key: optional `(epoch, batch)` of this batch: its augmentation is
                then drawn from `(seed, epoch, batch)`, the same in any
                process (what `HDF5DatasetGenerator` passes).

        Returns:
            An array of `images`' shape and dtype.

        Raises:
            ValueError: `images` is not a batch of images.
        """
        images = np.asarray(images)
        if images.ndim not in (3, 4) or 0 in images.shape[1:3]:
            raise ValueError(
                "images must be an (N, H, W) or (N, H, W, C) array, "
                f"got shape {images.shape}."
            )
        return self.augment_rows(images, np.arange(len(images)), seed,
                                 key=key if seed is None else None)

    def augment_rows(self, source, rows, seed=None, key=None):
        """Returns augmented copies of `source[rows]`, without gathering the rows first.

        Args:
            source: `(N, H, W)` or `(N, H, W, C)` array (or a strided view).
            rows: indices into `source`.
            seed: optional seed for this batch, as in `augment_batch`.
            key: optional `(epoch, batch)` key of the draws, as in
                `augment_batch` (used when `seed` is None).

        Returns:
            An array of `len(rows)` images of `source`'s image shape and dtype.
        """
        (h, w) = source.shape[1:3]
        rng = self._generator(seed) if key is None else self._rng.at(*key)
        params = self._draw(len(rows), h, w, rng)
        matrices = affine_matrices(params, h, w)
        out = np.empty((len(rows),) + source.shape[1:], source.dtype)
        fast = (
            source.dtype in _WARP_DTYPES and source.ndim == 4 and source.shape[3] in (3, 4)
            and source.strides[3] == source.itemsize
            and source.strides[2] == source.itemsize * source.shape[3]
        )
        if not fast:
            for (i, (row, matrix)) in enumerate(zip(rows, matrices)):
                self._warp(source[row], matrix, out=out[i])
            return out
        # the common case, kept lean: one warpAffine per image straight into `out`
        (border, value) = (FILL_MODES[self.fill_mode], (self.cval,) * 4)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        maps = matrices[:, :2]
        if source.dtype == np.uint8 and source.shape[3] == 3:
            # OpenCV warps 4-channel uint8 images about twice as fast as 3-channel ones,
            # to the same pixels: each image is warped with a fourth channel added, then dropped
            (wide, warped) = (np.empty((h, w, 4), np.uint8), np.empty((h, w, 4), np.uint8))
            for (i, row) in enumerate(rows):
                cv2.cvtColor(source[row], cv2.COLOR_BGR2BGRA, dst=wide)
                cv2.warpAffine(wide, maps[i], (w, h), dst=warped, flags=flags,
                               borderMode=border, borderValue=value)
                cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR, dst=out[i])
            return out
        for (i, row) in enumerate(rows):
            cv2.warpAffine(source[row], maps[i], (w, h), dst=out[i], flags=flags,
                           borderMode=border, borderValue=value)
        return out

    def flow(
        self,
        x,
        y=None,
        batch_size=32,
        shuffle=True,
        sample_weight=None,
        seed=None,
        save_to_dir=None,
        save_prefix="",
        save_format="jpg",
        save_order="RGB",
        repeat=None,
        **kwargs,
    ):
        """Batches of augmented images, like `ImageDataGenerator.flow`.

        The result is a `keras.utils.PyDataset`, so
        `model.fit(aug.flow(trainX, trainY, batch_size=32), epochs=...)` trains
        on it directly; iterating it or calling `next()` on it yields batches
        forever, as Keras 2's iterator did. With the book's
        `model.fit(..., steps_per_epoch=len(trainX) // 32)` every epoch is
        exactly that many full batches of fresh images; without it an epoch
        shows every image once. `repeat` fixes which of the two the flow is
        instead of detecting it (see `NumpyArrayIterator`).

        Args:
            x: `(N, H, W)` or `(N, H, W, C)` images.
            y: optional `N` labels (any array with `N` rows).
            batch_size: images per batch.
            shuffle: reshuffle the order every epoch.
            sample_weight: optional `N` weights, yielded third.
            seed: seed for order and augmentation; drawn from the augmenter's
                generator when None.
            save_to_dir: optional folder where every augmented image is also
                written (created if missing).
            save_prefix: file-name prefix of saved images (no path separator).
            save_format: image format of saved images, such as "jpg" or "png".
            save_order: channel order of `x` for `save_to_dir`: "RGB" (the
                default, as Keras saved the book's `load_img` arrays) or "BGR"
                (images read with `cv2.imread`). Files are named
                `{save_prefix}_{index}_{random}.{save_format}`, as Keras names them.
            repeat: `True`: an endless stream (`num_batches` None), which
                `model.fit` needs `steps_per_epoch` to cut into epochs;
                `False`: one pass per epoch (`num_batches == len(flow)`);
                `None` (default): the stream while a Keras loop with
                `steps_per_epoch` reads the flow, one pass otherwise.
            **kwargs: `keras.utils.PyDataset` options (`workers`,
                `use_multiprocessing`, `max_queue_size`).

        Returns:
            A `NumpyArrayIterator` yielding `x` batches, `(x, y)` or `(x, y, w)`.

        Raises:
            ValueError: `x` is not a batch of images, `y`/`sample_weight`
                have a different number of rows, `batch_size` is not positive,
                `save_prefix` holds a path separator, OpenCV cannot write
                `save_format`, `save_order` is not "RGB" or "BGR", or `repeat`
                is not True, False or None.
        """
        from pyimagesearch.augmentation.numpyarrayiterator import NumpyArrayIterator

        if seed is None:
            seed = int(self._rng.next().integers(2**31))
        return NumpyArrayIterator(
            self, x, y, batch_size=batch_size, shuffle=shuffle,
            sample_weight=sample_weight, seed=seed, save_to_dir=save_to_dir,
            save_prefix=save_prefix, save_format=save_format, save_order=save_order,
            repeat=repeat, **kwargs,
        )

    def _generator(self, seed):
        if seed is None:
            return None
        return np.random.default_rng(seed)

    def _draw(self, n, h, w, rng):
        if rng is None:
            rng = self._rng.next()
        zeros = np.zeros(n)
        theta = zeros
        if self.rotation_range:
            theta = rng.uniform(-self.rotation_range, self.rotation_range, n)
        tx = _draw_shift(self.width_shift_range, w, n, rng)
        ty = _draw_shift(self.height_shift_range, h, n, rng)
        shear = rng.uniform(-self.shear_range, self.shear_range, n) if self.shear_range else zeros
        if self.zoom_range == (1.0, 1.0):
            (zx, zy) = (np.ones(n), np.ones(n))
        else:
            (zx, zy) = rng.uniform(self.zoom_range[0], self.zoom_range[1], (2, n))
        flip_h = (rng.random(n) < 0.5) if self.horizontal_flip else np.zeros(n, bool)
        flip_v = (rng.random(n) < 0.5) if self.vertical_flip else np.zeros(n, bool)
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx,
                "zy": zy, "flip_horizontal": flip_h, "flip_vertical": flip_v}

    def _warp(self, image, matrix, out=None):
        """Warps one image by the inverse map `matrix`, into `out` when given."""
        result = self._warped(image, matrix, out)
        if out is None:
            return result.copy() if np.may_share_memory(result, image) else result
        if result is not out:
            out[...] = result
        return out

    def _warped(self, image, matrix, out):
        (h, w) = image.shape[:2]
        if np.array_equal(np.abs(matrix[:2, :2]), np.eye(2)):
            flipped = _as_flip(image, matrix)
            if flipped is not None:
                return flipped
        dtype = image.dtype
        work = image if dtype in _WARP_DTYPES else image.astype(np.float64)
        channels = work.shape[2] if work.ndim == 3 else 1
        if channels in (1, 3, 4):
            direct = out is not None and work.dtype == dtype and channels != 1
            result = cv2.warpAffine(
                np.ascontiguousarray(work), matrix[:2], (w, h),
                dst=out if direct else None,
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=FILL_MODES[self.fill_mode],
                borderValue=(self.cval,) * 4,
            )
            if direct and result is out:
                return out
            result = result.reshape(work.shape)
        else:
            # OpenCV warps at most 4 channels, and 2 only with coarser sub-pixel steps
            starts = np.cumsum([0] + _channel_chunks(channels))
            result = np.concatenate(
                [self._warp(work[:, :, a:b], matrix) for (a, b) in zip(starts[:-1], starts[1:])],
                axis=2,
            )
        if result.dtype != dtype:
            if np.issubdtype(dtype, np.integer):
                info = np.iinfo(dtype)
                result = np.clip(np.rint(result), info.min, info.max)
            result = result.astype(dtype)
        return result

    def __repr__(self):
        return (
            f"ImageAugmenter(rotation_range={self.rotation_range}, "
            f"width_shift_range={self.width_shift_range!r}, "
            f"height_shift_range={self.height_shift_range!r}, "
            f"shear_range={self.shear_range}, zoom_range={self.zoom_range}, "
            f"horizontal_flip={self.horizontal_flip}, vertical_flip={self.vertical_flip}, "
            f"fill_mode={self.fill_mode!r}, cval={self.cval}, seed={self.seed!r})"
        )


def affine_matrices(params, h, w):
    """Composes per-image inverse affine maps (output pixel -> input pixel).

    The composition is `ImageDataGenerator`'s: rotation, shift, shear and zoom
    about the image centre, followed by the flips.

    Args:
        params: dict of `(N,)` arrays as drawn by `ImageAugmenter`.
        h: image height.
        w: image width.

    Returns:
        An `(N, 3, 3)` float64 array in (x, y) pixel coordinates.
    """
    theta = np.deg2rad(np.asarray(params["theta"], dtype=np.float64))
    shear = np.deg2rad(np.asarray(params["shear"], dtype=np.float64))
    (tx, ty) = (np.asarray(params["tx"], np.float64), np.asarray(params["ty"], np.float64))
    (zx, zy) = (np.asarray(params["zx"], np.float64), np.asarray(params["zy"], np.float64))
    (cos, sin) = (np.cos(theta), np.sin(theta))
    (shear_sin, shear_cos) = (-np.sin(shear), np.cos(shear))
    n = len(theta)
    # rotation @ shift @ shear @ zoom, multiplied out
    m = np.zeros((n, 3, 3))
    m[:, 0, 0] = cos * zx
    m[:, 0, 1] = (cos * shear_sin - sin * shear_cos) * zy
    m[:, 0, 2] = cos * tx - sin * ty
    m[:, 1, 0] = sin * zx
    m[:, 1, 1] = (sin * shear_sin + cos * shear_cos) * zy
    m[:, 1, 2] = sin * tx + cos * ty
    m[:, 2, 2] = 1.0
    (cx, cy) = ((w - 1) / 2.0, (h - 1) / 2.0)
    # about the centre: offset @ m @ reset
    m[:, 0, 2] += cx - m[:, 0, 0] * cx - m[:, 0, 1] * cy
    m[:, 1, 2] += cy - m[:, 1, 0] * cx - m[:, 1, 1] * cy
    # flipping the output composes on the right of the inverse map
    flip_h = np.asarray(params["flip_horizontal"], bool)
    flip_v = np.asarray(params["flip_vertical"], bool)
    m[flip_h, :2, 2] += m[flip_h, :2, 0] * (w - 1)
    m[flip_h, :2, 0] *= -1
    m[flip_v, :2, 2] += m[flip_v, :2, 1] * (h - 1)
    m[flip_v, :2, 1] *= -1
    return m


def _as_flip(image, matrix):
    """Returns the image flipped as `matrix` says, if it is an exact pixel flip."""
    (h, w) = image.shape[:2]
    (sx, sy, tx, ty) = (matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2])
    if tx != (0.0 if sx > 0 else w - 1) or ty != (0.0 if sy > 0 else h - 1):
        return None
    return image[:: int(sy), :: int(sx)]


def _channel_chunks(channels):
    rest = {0: [], 1: [1], 2: [1, 1], 3: [3]}[channels % 4]
    return [4] * (channels // 4) + rest


def _as_image(x, name):
    x = np.asarray(x)
    if x.ndim not in (2, 3) or 0 in x.shape[:2]:
        raise ValueError(f"{name} must be an (H, W) or (H, W, C) image, got shape {x.shape}.")
    return x


def _non_negative(value, name):
    return check_number(value, name, minimum=0)


def _shift_range(value, name):
    if isinstance(value, (list, tuple, np.ndarray)):
        values = np.asarray(value, dtype=np.float64).ravel()
        if values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must hold finite numbers, got {value!r}.")
        return tuple(values.tolist())
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(
            f"{name} must be a non-negative number (a fraction below 1, or pixels) "
            f"or a list of values, got {value!r}."
        )
    if isinstance(value, numbers.Integral):
        return int(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    return float(value)


def _zoom_range(value):
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not 0 <= value < 1:
            raise ValueError(
                f"zoom_range must be a float in [0, 1) or a (lower, upper) pair, got {value!r}."
            )
        return (1.0 - value, 1.0 + value)
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
            and 0 < value[0] <= value[1] < math.inf):
        return (float(value[0]), float(value[1]))
    raise ValueError(
        f"zoom_range must be a float in [0, 1) or a (lower, upper) pair with "
        f"0 < lower <= upper, got {value!r}."
    )


def _draw_shift(spec, size, n, rng):
    if isinstance(spec, tuple):
        shifts = rng.choice(np.asarray(spec), n) * rng.choice([-1.0, 1.0], n)
        return shifts * size if max(spec) < 1 else shifts
    if not spec:
        return np.zeros(n)
    if isinstance(spec, int):
        return rng.integers(-spec + 1, spec, n).astype(np.float64)
    shifts = rng.uniform(-spec, spec, n)
    return shifts * size if spec < 1 else shifts
