"""DeeperGoogLeNet: chapter 11's GoogLeNet variant for Tiny ImageNet."""

import keras
from keras import layers
from keras.regularizers import l2

from pyimagesearch.nn.conv._checks import input_geometry, same, valid
from pyimagesearch.infra.validation import check_choice, check_number

POOLINGS = ("book", "global")


class DeeperGoogLeNet:
    """Two CONV blocks and nine-branch inception modules 3a-3b and 4a-4e."""

    @staticmethod
    def conv_module(x, K, kX, kY, stride, chanDim, padding="same", reg=0.0005, name=None):
        """CONV => BN => RELU, with layers named `name_conv`, `name_bn`, `name_act`.

        Args:
            x: input tensor.
            K: number of filters.
            kX, kY: kernel size.
            stride: convolution strides, e.g. `(1, 1)`.
            chanDim: channel axis (-1 for channels_last, 1 for channels_first).
            padding: "same" or "valid".
            reg: L2 regularisation strength on the kernel.
            name: optional prefix of the layer names.

        Returns:
            The output tensor.
        """
        convName, bnName, actName = (None, None, None)
        if name is not None:
            convName, bnName, actName = (name + "_conv", name + "_bn", name + "_act")
        x = layers.Conv2D(K, (kX, kY), strides=stride, padding=padding,
                          kernel_regularizer=l2(reg), name=convName)(x)
        x = layers.BatchNormalization(axis=chanDim, name=bnName)(x)
        x = layers.Activation("relu", name=actName)(x)
        return x

    @staticmethod
    def inception_module(x, num1x1, num3x3Reduce, num3x3, num5x5Reduce, num5x5,
                         num1x1Proj, chanDim, stage, reg=0.0005):
        """GoogLeNet's inception module: 1x1, 1x1 => 3x3, 1x1 => 5x5 and
        3x3 max pool => 1x1 branches concatenated as `stage_mixed`.

        Args:
            x: input tensor.
            num1x1: filters of the 1x1 branch.
            num3x3Reduce, num3x3: filters of the 3x3 branch's reduce and 3x3 layers.
            num5x5Reduce, num5x5: filters of the 5x5 branch's reduce and 5x5 layers.
            num1x1Proj: filters of the pool branch's 1x1 projection.
            chanDim: channel axis.
            stage: prefix of the module's layer names, e.g. "3a".
            reg: L2 regularisation strength on the kernels.

        Returns:
            The output tensor.
        """
        conv = DeeperGoogLeNet.conv_module
        first = conv(x, num1x1, 1, 1, (1, 1), chanDim, reg=reg, name=stage + "_first")

        second = conv(x, num3x3Reduce, 1, 1, (1, 1), chanDim, reg=reg,
                      name=stage + "_second1")
        second = conv(second, num3x3, 3, 3, (1, 1), chanDim, reg=reg,
                      name=stage + "_second2")

        third = conv(x, num5x5Reduce, 1, 1, (1, 1), chanDim, reg=reg,
                     name=stage + "_third1")
        third = conv(third, num5x5, 5, 5, (1, 1), chanDim, reg=reg,
                     name=stage + "_third2")

        fourth = layers.MaxPooling2D((3, 3), strides=(1, 1), padding="same",
                                     name=stage + "_pool")(x)
        fourth = conv(fourth, num1x1Proj, 1, 1, (1, 1), chanDim, reg=reg,
                      name=stage + "_fourth")

        return layers.concatenate([first, second, third, fourth], axis=chanDim,
                                  name=stage + "_mixed")

    @staticmethod
    def build(width, height, depth, classes, reg=0.0005, pooling="book"):
        """Builds DeeperGoogLeNet (64x64x3 in the book).

        The book ends with `AveragePooling2D((4, 4))` over the last volume,
        which is 4x4 at 64x64 input, and that is the default here at every
        size. `pooling="global"` asks for a global average pool instead: the
        same network at 64x64 (same output, same parameters), but at other
        sizes a different one (at 128x128 the book's pool leaves a 2x2 volume,
        so its classifier has 2,496 more weights per class, 24,960 for 10
        classes), and the only one below 49x49, where the book's network
        cannot be built.

        Args:
            width, height, depth: input image size and channels.
            classes: number of output classes.
            reg: L2 regularisation strength on the CONV and FC kernels.
            pooling: "book" (the book's `AveragePooling2D((4, 4))`, inputs of
                49x49 or more) or "global" (a global average pool, any input
                size; the same network at 64x64).

        Returns:
            An uncompiled `keras.Model` with a softmax output.

        Raises:
            ValueError: a non-positive size or class count, a negative `reg`,
                an unknown `pooling`, or with `pooling="book"` an input
                smaller than 49x49 (a final volume under 4x4).
        """
        check_choice(pooling, "pooling", POOLINGS)
        reduce = _books_final_volume if pooling == "book" else None
        inputShape, chanDim = input_geometry(
            "DeeperGoogLeNet with the book's 4x4 average pool (pooling='book'; "
            "pooling='global' takes any size)"
            if pooling == "book" else "DeeperGoogLeNet",
            width, height, depth, classes, reduce=reduce,
        )
        reg = check_number(reg, "reg", minimum=0)
        conv = DeeperGoogLeNet.conv_module
        inception = DeeperGoogLeNet.inception_module

        inputs = keras.Input(shape=inputShape)
        x = conv(inputs, 64, 5, 5, (1, 1), chanDim, reg=reg, name="block1")
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="pool1")(x)
        x = conv(x, 64, 1, 1, (1, 1), chanDim, reg=reg, name="block2")
        x = conv(x, 192, 3, 3, (1, 1), chanDim, reg=reg, name="block3")
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="pool2")(x)

        x = inception(x, 64, 96, 128, 16, 32, 32, chanDim, "3a", reg=reg)
        x = inception(x, 128, 128, 192, 32, 96, 64, chanDim, "3b", reg=reg)
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="pool3")(x)

        x = inception(x, 192, 96, 208, 16, 48, 64, chanDim, "4a", reg=reg)
        x = inception(x, 160, 112, 224, 24, 64, 64, chanDim, "4b", reg=reg)
        x = inception(x, 128, 128, 256, 24, 64, 64, chanDim, "4c", reg=reg)
        x = inception(x, 112, 144, 288, 32, 64, 64, chanDim, "4d", reg=reg)
        x = inception(x, 256, 160, 320, 32, 128, 128, chanDim, "4e", reg=reg)
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="pool4")(x)

        if pooling == "book":
            x = layers.AveragePooling2D((4, 4), name="pool5")(x)
        else:  # equal to the book's 4x4 average pool at 64x64 input, where the volume is 4x4
            x = layers.GlobalAveragePooling2D(name="pool5")(x)
        x = layers.Dropout(0.4, name="do")(x)

        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(classes, kernel_regularizer=l2(reg), name="labels")(x)
        x = layers.Activation("softmax", dtype="float32", name="softmax")(x)
        return keras.Model(inputs, x, name="googlenet")


def _books_final_volume(n):
    """The side left after the book's pools, its 4x4 average pool included."""
    return valid(same(same(same(same(n, 2), 2), 2), 2), 4, 4)
