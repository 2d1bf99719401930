"""The demo's embedded dataset: scikit-learn's handwritten digits as an image folder."""

import os

import cv2
import numpy as np


def write_digits_dataset(outputDir, size=32):
    """Writes the 1,797 8x8 digit scans shipped with scikit-learn as BGR PNGs.

    The layout is the book's `{dataset}/{class}/{image}`: `outputDir/3/0042.png`.

    Args:
        outputDir: folder to create (it must not hold images already).
        size: side of the written square images, upscaled with bicubic interpolation.

    Returns:
        The number of images written.

    Raises:
        ValueError: `size` is smaller than 8, or `outputDir` already holds files.
    """
    from sklearn.datasets import load_digits

    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}.")
    if os.path.isdir(outputDir) and os.listdir(outputDir):
        raise ValueError(f"outputDir {outputDir!r} is not empty; choose a new folder.")
    digits = load_digits()
    images = np.clip(digits.images * (255.0 / 16.0), 0, 255).astype(np.uint8)
    for label in np.unique(digits.target):
        os.makedirs(os.path.join(outputDir, str(label)), exist_ok=True)
    for i, (image, label) in enumerate(zip(images, digits.target)):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        cv2.imwrite(os.path.join(outputDir, str(label), f"{i:04d}.png"), bgr)
    return len(images)
