"""Apply a chain of preprocessors to a batch of images."""

import numpy as np


def apply_preprocessors(images, preprocessors):
    """Runs `images` through `preprocessors` in order.

    When every preprocessor has `preprocess_batch(images)`, the whole batch
    goes through each at once; otherwise each image goes through the chain of
    the book's `preprocess(image)`.

    Args:
        images: an `(N, H, W[, C])` batch.
        preprocessors: a sequence of preprocessors.

    Returns:
        The preprocessed batch as an array.
    """
    if not preprocessors:
        return np.asarray(images)
    if all(callable(getattr(p, "preprocess_batch", None)) for p in preprocessors):
        for preprocessor in preprocessors:
            images = preprocessor.preprocess_batch(images)
        return np.asarray(images)
    processed = []
    for image in images:
        for preprocessor in preprocessors:
            image = preprocessor.preprocess(image)
        processed.append(image)
    return np.array(processed)
