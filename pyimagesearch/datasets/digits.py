"""The demo's embedded dataset: scikit-learn's handwritten digits as an image folder."""

import os
import shutil
import tempfile

import cv2
import numpy as np

from pyimagesearch.infra.validation import check_int


def write_digits_dataset(outputDir, size=32):
    """Writes the 1,797 8x8 digit scans shipped with scikit-learn as BGR PNGs.

    The layout is the book's `{dataset}/{class}/{image}`: `outputDir/3/0042.png`.
    The folder appears whole or not at all: it is written beside `outputDir`
    and renamed into place.

    Args:
        outputDir: folder to create (it must not hold images already).
        size: side of the written square images, upscaled with bicubic interpolation.

    Returns:
        The number of images written.

    Raises:
        ValueError: `size` is smaller than 8, or `outputDir` already holds files.
    """
    from sklearn.datasets import load_digits

    size = check_int(size, "size", minimum=8)
    if os.path.isdir(outputDir) and os.listdir(outputDir):
        raise ValueError(f"outputDir {outputDir!r} is not empty; choose a new folder.")
    digits = load_digits()
    images = np.clip(digits.images * (255.0 / 16.0), 0, 255).astype(np.uint8)
    parent = os.path.dirname(os.path.abspath(outputDir))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=".digits-", dir=parent)
    try:
        for label in np.unique(digits.target):
            os.makedirs(os.path.join(temporary, str(label)))
        for i, (image, label) in enumerate(zip(images, digits.target)):
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
            bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            cv2.imwrite(os.path.join(temporary, str(label), f"{i:04d}.png"), bgr)
        os.chmod(temporary, 0o755)
        os.replace(temporary, outputDir)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return len(images)
