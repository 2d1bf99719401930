"""ShallowNet: the Starter Bundle's one-layer CNN."""

import keras
from keras import layers

from pyimagesearch.nn.conv._checks import input_geometry


class ShallowNet:
    """INPUT => CONV => RELU => FC => SOFTMAX."""

    @staticmethod
    def build(width, height, depth, classes):
        """Builds ShallowNet.

        Args:
            width, height, depth: input image size and channels.
            classes: number of output classes.

        Returns:
            An uncompiled `keras.Model` with a softmax output.

        Raises:
            ValueError: a non-positive size or class count.
        """
        inputShape, _ = input_geometry("ShallowNet", width, height, depth, classes)
        model = keras.Sequential(name="shallownet")
        model.add(keras.Input(shape=inputShape))
        model.add(layers.Conv2D(32, (3, 3), padding="same"))
        model.add(layers.Activation("relu"))
        model.add(layers.Flatten())
        model.add(layers.Dense(classes))
        model.add(layers.Activation("softmax", dtype="float32"))
        return model
