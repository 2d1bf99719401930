"""MiniVGGNet: the Starter Bundle's small VGG-style network."""

import keras
from keras import layers

from pyimagesearch.nn.conv._checks import input_geometry, valid


class MiniVGGNet:
    """Two (CONV => RELU => BN) x2 => POOL => DROPOUT blocks, then FC => RELU => BN."""

    @staticmethod
    def build(width, height, depth, classes):
        """Builds MiniVGGNet.

        Args:
            width, height, depth: input image size and channels (at least 4x4).
            classes: number of output classes.

        Returns:
            An uncompiled `keras.Model` with a softmax output.

        Raises:
            ValueError: a non-positive size or class count, or an input too small.
        """
        inputShape, chanDim = input_geometry(
            "MiniVGGNet", width, height, depth, classes,
            reduce=lambda n: valid(valid(n, 2, 2), 2, 2),
        )
        model = keras.Sequential(name="minivggnet")
        model.add(keras.Input(shape=inputShape))
        for filters in (32, 64):
            for _ in range(2):
                model.add(layers.Conv2D(filters, (3, 3), padding="same"))
                model.add(layers.Activation("relu"))
                model.add(layers.BatchNormalization(axis=chanDim))
            model.add(layers.MaxPooling2D(pool_size=(2, 2)))
            model.add(layers.Dropout(0.25))
        model.add(layers.Flatten())
        model.add(layers.Dense(512))
        model.add(layers.Activation("relu"))
        model.add(layers.BatchNormalization())
        model.add(layers.Dropout(0.5))
        model.add(layers.Dense(classes))
        model.add(layers.Activation("softmax", dtype="float32"))
        return model
