"""Over-sampling (10-crop) evaluation, batched."""

import math

import numpy as np

from pyimagesearch.preprocessing.chain import apply_preprocessors
from pyimagesearch.infra.validation import check_int


def predict_oversampled(model, images, cropper, preprocessors=None, batch_size=64, verbose=0):
    """Predicts every image as the mean prediction over its crops.

    Gives what the book's `crop_accuracy.py` computes with one
    `model.predict` per image (crop, apply `preprocessors` to each crop,
    predict, average), but predicts the crops of many images per batch.

    On the uint8 path (a model made by `pyimagesearch.nn.layers.uint8_model`,
    no `preprocessors`) the crops stay uint8 and the model subtracts the
    mean; the outputs equal the float path's, except that a centre crop
    resized for an odd margin is rounded to whole grey levels (at most 0.5).

    Args:
        model: a `keras.Model` (or anything with Keras' `predict`).
        images: `(N, H, W[, C])` array or array-like with slicing (such as an
            HDF5 dataset) of images to crop.
        cropper: an object with `preprocess(image) -> (K, h, w[, C])` crops,
            such as `CropPreprocessor`; its `preprocess_batch` is used when it
            has one.
        preprocessors: optional list applied, in order, to every crop
            (`preprocess_batch` when available, else `preprocess` per crop).
        batch_size: number of crops per forward pass.
        verbose: Keras' `predict` verbosity (1 shows a progress bar).

    Returns:
        `(N, classes)` float array of averaged predictions.

    Raises:
        ValueError: `images` is empty, `cropper` has no `preprocess`,
            `batch_size` is not positive, or a model that takes uint8 images
            would be handed other crops (Keras would clip them to 0..255).
    """
    import keras

    if not hasattr(cropper, "preprocess"):
        raise ValueError(f"cropper must have a preprocess(image) method, got {cropper!r}.")
    batch_size = check_int(batch_size, "batch_size")
    if not hasattr(images, "__getitem__") or not hasattr(images, "__len__"):
        images = np.asarray(images)
    if len(images) == 0:
        raise ValueError("images must hold at least one image.")
    preprocessors = list(preprocessors or [])
    first = apply_preprocessors(_crop(cropper, images[:1]), preprocessors)
    crops_per_image = len(first)
    _check_uint8_input(model, first.dtype)

    class _Crops(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.per_batch = max(1, batch_size // crops_per_image)

        def __len__(self):
            return math.ceil(len(images) / self.per_batch)

        def __getitem__(self, index):
            chunk = images[index * self.per_batch:(index + 1) * self.per_batch]
            return (apply_preprocessors(_crop(cropper, chunk), preprocessors),)

    predictions = np.asarray(model.predict(_Crops(), verbose=verbose))
    return predictions.reshape(len(images), crops_per_image, -1).mean(axis=1)


def _crop(cropper, images):
    """Crops of a chunk of images, flattened to (n * K, h, w[, C])."""
    images = np.asarray(images)
    if hasattr(cropper, "preprocess_batch"):
        crops = np.asarray(cropper.preprocess_batch(images))
    else:
        crops = np.stack([np.asarray(cropper.preprocess(image)) for image in images])
    return crops.reshape((-1,) + crops.shape[2:])


def _check_uint8_input(model, dtype):
    """Refuses non-uint8 crops for a uint8 model: Keras would clip them to 0..255 silently."""
    try:
        inputs = list(model.inputs or [])
    except (AttributeError, ValueError):  # not a Keras model, or one not built yet
        inputs = []
    if len(inputs) == 1 and str(inputs[0].dtype) == "uint8" and dtype != np.uint8:
        raise ValueError(
            f"model takes uint8 images (uint8_model) but the crops after preprocessors are "
            f"{dtype}; drop MeanPreprocessor/ImageToArrayPreprocessor, the model subtracts "
            "the mean itself."
        )
