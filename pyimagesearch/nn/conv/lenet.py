"""LeNet: the Starter Bundle's LeNet-5 variant."""

import keras
from keras import layers

from pyimagesearch.nn.conv._checks import input_geometry, valid


class LeNet:
    """INPUT => (CONV => RELU => POOL) x2 => FC => RELU => FC => SOFTMAX."""

    @staticmethod
    def build(width, height, depth, classes):
        """Builds LeNet.

        Args:
            width, height, depth: input image size and channels (at least 4x4).
            classes: number of output classes.

        Returns:
            An uncompiled `keras.Model` with a softmax output.

        Raises:
            ValueError: a non-positive size or class count, or an input too small.
        """
        inputShape, _ = input_geometry(
            "LeNet", width, height, depth, classes,
            reduce=lambda n: valid(valid(n, 2, 2), 2, 2),
        )
        model = keras.Sequential(name="lenet")
        model.add(keras.Input(shape=inputShape))
        model.add(layers.Conv2D(20, (5, 5), padding="same"))
        model.add(layers.Activation("relu"))
        model.add(layers.MaxPooling2D(pool_size=(2, 2), strides=(2, 2)))
        model.add(layers.Conv2D(50, (5, 5), padding="same"))
        model.add(layers.Activation("relu"))
        model.add(layers.MaxPooling2D(pool_size=(2, 2), strides=(2, 2)))
        model.add(layers.Flatten())
        model.add(layers.Dense(500))
        model.add(layers.Activation("relu"))
        model.add(layers.Dense(classes))
        model.add(layers.Activation("softmax", dtype="float32"))
        return model
