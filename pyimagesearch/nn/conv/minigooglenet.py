"""MiniGoogLeNet: chapter 11's Miniception network for CIFAR-10."""

import keras
from keras import layers

from pyimagesearch.nn.conv._checks import input_geometry, valid


def _reduce(size):
    for _ in range(2):
        size = valid(size, 3, 2)
    return size


class MiniGoogLeNet:
    """Inception and downsample modules of CONV => BN => RELU blocks."""

    @staticmethod
    def conv_module(x, K, kX, kY, stride, chanDim, padding="same"):
        """CONV => BN => RELU.

        Args:
            x: input tensor.
            K: number of filters.
            kX, kY: kernel size.
            stride: convolution strides, e.g. `(1, 1)`.
            chanDim: channel axis (-1 for channels_last, 1 for channels_first).
            padding: "same" or "valid".

        Returns:
            The output tensor.
        """
        x = layers.Conv2D(K, (kX, kY), strides=stride, padding=padding)(x)
        x = layers.BatchNormalization(axis=chanDim)(x)
        x = layers.Activation("relu")(x)
        return x

    @staticmethod
    def inception_module(x, numK1x1, numK3x3, chanDim):
        """A 1x1 and a 3x3 `conv_module` side by side, concatenated.

        Returns:
            The output tensor, with `numK1x1 + numK3x3` channels.
        """
        conv_1x1 = MiniGoogLeNet.conv_module(x, numK1x1, 1, 1, (1, 1), chanDim)
        conv_3x3 = MiniGoogLeNet.conv_module(x, numK3x3, 3, 3, (1, 1), chanDim)
        return layers.concatenate([conv_1x1, conv_3x3], axis=chanDim)

    @staticmethod
    def downsample_module(x, K, chanDim):
        """A 3x3 stride-2 valid `conv_module` beside a 3x3 stride-2 max pool.

        Returns:
            The output tensor, spatially halved, with `K` more channels.
        """
        conv_3x3 = MiniGoogLeNet.conv_module(
            x, K, 3, 3, (2, 2), chanDim, padding="valid"
        )
        pool = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
        return layers.concatenate([conv_3x3, pool], axis=chanDim)

    @staticmethod
    def build(width, height, depth, classes):
        """Builds MiniGoogLeNet (32x32x3 in the book).

        Args:
            width, height, depth: input image size and channels (at least 7x7).
            classes: number of output classes.

        Returns:
            An uncompiled `keras.Model` with a softmax output.

        Raises:
            ValueError: a non-positive size or class count, or an input too small.
        """
        inputShape, chanDim = input_geometry(
            "MiniGoogLeNet", width, height, depth, classes, reduce=_reduce
        )
        inputs = keras.Input(shape=inputShape)
        x = MiniGoogLeNet.conv_module(inputs, 96, 3, 3, (1, 1), chanDim)

        x = MiniGoogLeNet.inception_module(x, 32, 32, chanDim)
        x = MiniGoogLeNet.inception_module(x, 32, 48, chanDim)
        x = MiniGoogLeNet.downsample_module(x, 80, chanDim)

        x = MiniGoogLeNet.inception_module(x, 112, 48, chanDim)
        x = MiniGoogLeNet.inception_module(x, 96, 64, chanDim)
        x = MiniGoogLeNet.inception_module(x, 80, 80, chanDim)
        x = MiniGoogLeNet.inception_module(x, 48, 96, chanDim)
        x = MiniGoogLeNet.downsample_module(x, 96, chanDim)

        x = MiniGoogLeNet.inception_module(x, 176, 160, chanDim)
        x = MiniGoogLeNet.inception_module(x, 176, 160, chanDim)
        # the book's 7x7 average pool covers the whole 7x7 volume at 32x32 input
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(0.5)(x)

        x = layers.Flatten()(x)
        x = layers.Dense(classes)(x)
        x = layers.Activation("softmax", dtype="float32")(x)
        return keras.Model(inputs, x, name="googlenet")
