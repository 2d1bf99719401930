"""Input checks shared by the preprocessors."""

import numpy as np

from pyimagesearch.infra.validation import check_int


def as_image(image, who):
    """Returns `image` as an ndarray of shape (H, W) or (H, W, C).

    Raises:
        ValueError: `image` is not a 2-D or 3-D array with non-empty sides.
    """
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"{who} expects an image of shape (H, W) or (H, W, C), got shape {array.shape}."
        )
    return array


def as_batch(images, who):
    """Returns `images` as an ndarray of shape (N, H, W) or (N, H, W, C).

    Raises:
        ValueError: `images` is not a 3-D or 4-D array with non-empty sides.
    """
    array = np.asarray(images)
    if array.ndim not in (3, 4) or 0 in array.shape[1:3]:
        raise ValueError(
            f"{who} expects a batch of shape (N, H, W) or (N, H, W, C), got shape {array.shape}."
        )
    return array


def check_size(width, height, who):
    """Checks that a target size is two positive integers."""
    check_int(width, f"{who}: width")
    check_int(height, f"{who}: height")


def check_fits(image_shape, width, height, who):
    """Checks that a width x height window fits inside an image of `image_shape`."""
    image_height, image_width = image_shape[:2]
    if width > image_width or height > image_height:
        raise ValueError(
            f"{who}: a {width}x{height} (width x height) crop does not fit in a "
            f"{image_width}x{image_height} image."
        )


def resize(image, width, height, inter):
    """cv2.resize that keeps a trailing channel axis of size 1."""
    import cv2

    resized = cv2.resize(image, (width, height), interpolation=inter)
    if image.ndim == 3 and resized.ndim == 2:
        resized = resized[:, :, np.newaxis]
    return resized


def map_images(function, images, who):
    """Applies a per-image function over a batch and stacks the results."""
    batch = as_batch(images, who)
    return np.stack([function(image) for image in batch])
