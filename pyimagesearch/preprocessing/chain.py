"""Apply a chain of preprocessors to a batch of images."""

import numpy as np


def draws_by_key(step):
    """Whether a preprocessor or augmenter takes the batch's `key=(epoch, batch)`.

    Such steps say so with a class attribute `draws_by_key = True`; their
    `preprocess_batch`, `preprocess` or `augment_batch` accept `key=` (see
    `pyimagesearch.infra.processrng`).
    """
    return getattr(step, "draws_by_key", False) is True


def apply_preprocessors(images, preprocessors, key=None):
    """Runs `images` through `preprocessors` in order.

    When every preprocessor has `preprocess_batch(images)`, the whole batch
    goes through each at once; otherwise each image goes through the chain of
    the book's `preprocess(image)`.

    Args:
        images: an `(N, H, W[, C])` batch.
        preprocessors: a sequence of preprocessors.
        key: optional `(epoch, batch)` of this batch, passed to the steps
            that draw by key (image `i` gets `(epoch, batch, i)` on the
            per-image path); see `pyimagesearch.infra.processrng`.

    Returns:
        The preprocessed batch as an array.
    """
    if not preprocessors:
        return np.asarray(images)
    if all(callable(getattr(p, "preprocess_batch", None)) for p in preprocessors):
        for preprocessor in preprocessors:
            if key is not None and draws_by_key(preprocessor):
                images = preprocessor.preprocess_batch(images, key=key)
            else:
                images = preprocessor.preprocess_batch(images)
        return np.asarray(images)
    processed = []
    for (i, image) in enumerate(images):
        for preprocessor in preprocessors:
            if key is not None and draws_by_key(preprocessor):
                image = preprocessor.preprocess(image, key=(*key, i))
            else:
                image = preprocessor.preprocess(image)
        processed.append(image)
    return np.array(processed)
