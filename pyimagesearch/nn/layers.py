"""Preprocessing as the model's first layers, so that uint8 batches go to the device.

The book subtracts the dataset's means (or divides by 255) on the CPU and hands
float32 batches to the model. On the opt-in uint8 path the generator hands the
model uint8 patches (a quarter of the bytes) and the model does that arithmetic
itself, in layers saved in the `.keras` file, so a loaded model predicts from
raw pixels with no preprocessor.

    model = AlexNet.build(width=227, height=227, depth=3, classes=2, reg=0.0002)
    model = uint8_model(model, mean="output/dogs_vs_cats_mean.json")
    model.fit(HDF5DatasetGenerator(trainPath, 128,
                                   preprocessors=[PatchPreprocessor(227, 227)]), ...)
"""

import math
import os

import keras
import numpy as np

from pyimagesearch.infra.validation import check_choice
from pyimagesearch.preprocessing.meanpreprocessor import check_mean


@keras.saving.register_keras_serializable(package="pyimagesearch")
class MeanSubtraction(keras.layers.Layer):
    """Subtracts per-channel BGR means: `MeanPreprocessor` as a layer.

    Casts its input (uint8 or any dtype) to the layer's compute dtype, then
    subtracts the means, so its output equals `MeanPreprocessor` followed by
    `ImageToArrayPreprocessor` on the host.

    Args:
        rMean: mean of the red channel.
        gMean: mean of the green channel.
        bMean: mean of the blue channel.
        data_format: "channels_last" or "channels_first"; None reads
            `keras.config.image_data_format()`.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
        ValueError: a mean that is not a finite number in `[0, 255]`, or an input whose
            channel axis is not 3 (at build time).
    """

    def __init__(self, rMean, gMean, bMean, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.rMean, self.gMean, self.bMean = (
            check_mean(value, name, "MeanSubtraction")
            for name, value in (("rMean", rMean), ("gMean", gMean), ("bMean", bMean)))
        if data_format is None:
            data_format = keras.config.image_data_format()
        self.data_format = check_choice(data_format, "MeanSubtraction: data_format",
                                        ("channels_last", "channels_first"))

    @classmethod
    def from_json(cls, path, **kwargs):
        """Builds the layer from the book's means file `{"R": .., "G": .., "B": ..}`.

        Args:
            path: path of the JSON file written by the dataset builder.
            **kwargs: further arguments of the layer.

        Returns:
            A `MeanSubtraction` layer.

        Raises:
            FileNotFoundError: `path` does not exist.
            ValueError: the file is not JSON, lacks one of the keys R, G, B,
                or holds a mean that is not a finite number (NaN, Infinity).
        """
        from pyimagesearch.preprocessing.meanpreprocessor import read_means_json

        return cls(*read_means_json(path), **kwargs)

    def build(self, input_shape):
        axis = -1 if self.data_format == "channels_last" else 1
        if len(input_shape) < 3 or input_shape[axis] != 3:
            raise ValueError(
                f"MeanSubtraction expects 3-channel BGR images ({self.data_format}), "
                f"got input shape {tuple(input_shape)}."
            )
        shape = (3,) if axis == -1 else (3, 1, 1)
        self._bgr = np.array([self.bMean, self.gMean, self.rMean], "float32").reshape(shape)

    def call(self, inputs):
        images = keras.ops.cast(inputs, self.compute_dtype)
        return images - keras.ops.cast(self._bgr, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(rMean=self.rMean, gMean=self.gMean, bMean=self.bMean,
                      data_format=self.data_format)
        return config


def scaling_layer():
    """The book's `/ 255.0` as a layer: `keras.layers.Rescaling(1.0 / 255)`.

    Keras' own layer is serializable and casts uint8 input itself; its output
    equals `x.astype("float32") / 255.0` to within one float32 rounding.

    Returns:
        A `keras.layers.Rescaling` layer named "scaling".
    """
    return keras.layers.Rescaling(1.0 / 255, name="scaling")


def device_augmentation(augmenter, image_size=None, seed=None):
    """Keras 3 preprocessing layers with an `ImageAugmenter`'s parameters.

    The layers run inside the model, on the device, and only in training
    (`fit`); `predict` and `evaluate` pass images through unchanged. Each
    transform is its own resampling pass (the host's `ImageAugmenter` does one
    warp for all), so results agree in distribution, not pixel for pixel.

    Mapping: rotation -> `RandomRotation`, shifts -> `RandomTranslation`,
    zoom (independent x and y factors, > 1 zooms out as in Keras 2) ->
    `RandomZoom`, shear (degrees) -> `RandomShear`, flips -> `RandomFlip`;
    `fill_mode` and `cval` are passed on.

    Args:
        augmenter: an `ImageAugmenter` (or anything with its attributes).
        image_size: `(height, width)`, needed only for shifts given in pixels.
        seed: seed of the layers' random draws.

    Returns:
        A `keras.Sequential` named "device_augmentation" (empty when the
        augmenter changes nothing).

    Raises:
        ValueError: a shift given as a list of values, pixel shifts without
            `image_size`, a shear above 45 degrees or a zoom factor <= 0.
    """
    fill = dict(fill_mode=augmenter.fill_mode, fill_value=float(augmenter.cval))
    layers = []
    if augmenter.rotation_range:
        layers.append(keras.layers.RandomRotation(
            augmenter.rotation_range / 360.0, seed=seed, **fill))
    shifts = [_shift_fraction(getattr(augmenter, f"{axis}_shift_range"), axis, image_size, index)
              for (index, axis) in enumerate(("height", "width"))]
    if any(shifts):
        layers.append(keras.layers.RandomTranslation(shifts[0], shifts[1], seed=seed, **fill))
    (low, high) = augmenter.zoom_range
    if (low, high) != (1.0, 1.0):
        if low <= 0:
            raise ValueError(f"zoom_range must be positive for device augmentation, got {(low, high)}.")
        factor = (low - 1.0, high - 1.0)
        layers.append(keras.layers.RandomZoom(factor, factor, seed=seed, **fill))
    if augmenter.shear_range:
        if augmenter.shear_range > 45:
            raise ValueError(
                f"shear_range above 45 degrees has no RandomShear equivalent, "
                f"got {augmenter.shear_range}."
            )
        slope = math.tan(math.radians(augmenter.shear_range))
        # (0, s) with the layer's random sign is [-s, s]; a bare float would be
        # stored as (-s, s), which RandomShear's from_config rejects
        layers.append(keras.layers.RandomShear(x_factor=(0.0, slope), seed=seed, **fill))
    modes = [mode for (mode, on) in (("horizontal", augmenter.horizontal_flip),
                                     ("vertical", augmenter.vertical_flip)) if on]
    if modes:
        layers.append(keras.layers.RandomFlip("_and_".join(modes), seed=seed))
    return keras.Sequential(layers, name="device_augmentation")


def uint8_model(model, mean=None, scale=False, augmentation=None):
    """Wraps `model` so that it takes uint8 images and preprocesses them itself.

    The new model is `uint8 input -> [MeanSubtraction] -> [Rescaling 1/255]
    -> [augmentation] -> model`: the book's host order (mean, to-array, then
    augmentation). It saves to one `.keras` file that `keras.models.load_model`
    reads back in safe mode.

    Args:
        model: a built `keras.Model` with one image input.
        mean: None, a path to the builder's means JSON, a `(rMean, gMean,
            bMean)` triple, or a `MeanSubtraction` layer.
        scale: True to divide by 255 (after the mean subtraction, if any).
        augmentation: None, an `ImageAugmenter` (turned into Keras layers
            with `device_augmentation`), or any Keras layer to apply in
            training.

    Feed it uint8 images only: Keras casts any other input to uint8, which
    clips a mean-subtracted float batch to 0..255 without a word, so drop
    `MeanPreprocessor` and `ImageToArrayPreprocessor` from the host chain
    (`predict_oversampled` refuses such crops).

    Returns:
        A `keras.Model` whose input dtype is uint8, named `model.name + "_uint8"`.

    Raises:
        ValueError: `model` has no single input, or a bad `mean`.
    """
    if not isinstance(model, keras.Model) or len(model.inputs) != 1:
        raise ValueError(f"model must be a built keras.Model with one input, got {model!r}.")
    shape = tuple(model.inputs[0].shape[1:])
    inputs = keras.Input(shape, dtype="uint8", name="uint8_images")
    x = inputs
    if mean is not None:
        x = _mean_layer(mean)(x)
    if scale:
        x = scaling_layer()(x)
    if augmentation is not None:
        if not isinstance(augmentation, keras.layers.Layer):
            channels_last = keras.config.image_data_format() == "channels_last"
            size = shape[:2] if channels_last else shape[1:3]
            augmentation = device_augmentation(augmentation, image_size=size)
        x = augmentation(x)
    return keras.Model(inputs, model(x), name=f"{model.name}_uint8")


def _mean_layer(mean):
    if isinstance(mean, MeanSubtraction):
        return mean
    if isinstance(mean, (str, os.PathLike)):
        return MeanSubtraction.from_json(mean, name="mean_subtraction")
    if np.ndim(mean) == 1 and len(mean) == 3:
        return MeanSubtraction(*mean, name="mean_subtraction")
    raise ValueError(
        "mean must be a means JSON path, an (rMean, gMean, bMean) triple or a "
        f"MeanSubtraction layer, got {mean!r}."
    )


def _shift_fraction(value, axis, image_size, index):
    """A shift range as the fraction of the side that `RandomTranslation` takes."""
    name = f"{axis}_shift_range"
    if isinstance(value, (list, tuple, np.ndarray)):
        raise ValueError(f"{name} as a list of values has no RandomTranslation equivalent, got {value!r}.")
    if not value:
        return 0.0
    if isinstance(value, float) and value < 1:
        return value
    if image_size is None:
        raise ValueError(f"{name}={value!r} is in pixels; pass image_size=(height, width).")
    return min(1.0, float(value) / image_size[index])
