"""AlexNet: chapter 10's AlexNet with batch normalisation (Kaggle Dogs vs. Cats)."""

import keras
from keras import layers
from keras.regularizers import l2

from pyimagesearch.nn.conv._checks import input_geometry, same, valid
from pyimagesearch.infra.validation import check_number


def _reduce(size):
    size = valid(same(size, 4), 3, 2)
    size = valid(size, 3, 2)
    return valid(size, 3, 2)


class AlexNet:
    """Five CONV => RELU => BN layers in three pooled blocks, then two FC blocks."""

    @staticmethod
    def build(width, height, depth, classes, reg=0.0002):
        """Builds AlexNet (227x227x3 in the book).

        Args:
            width, height, depth: input image size and channels (at least 57x57).
            classes: number of output classes.
            reg: L2 regularisation strength on the CONV and FC kernels.

        Returns:
            An uncompiled `keras.Model` with a softmax output.

        Raises:
            ValueError: a non-positive size or class count, a negative `reg`,
                or an input too small.
        """
        inputShape, chanDim = input_geometry(
            "AlexNet", width, height, depth, classes, reduce=_reduce
        )
        reg = check_number(reg, "reg", minimum=0)
        model = keras.Sequential(name="alexnet")
        model.add(keras.Input(shape=inputShape))

        # Block #1: CONV => RELU => POOL
        model.add(layers.Conv2D(96, (11, 11), strides=(4, 4), padding="same",
                                kernel_regularizer=l2(reg)))
        model.add(layers.Activation("relu"))
        model.add(layers.BatchNormalization(axis=chanDim))
        model.add(layers.MaxPooling2D(pool_size=(3, 3), strides=(2, 2)))
        model.add(layers.Dropout(0.25))

        # Block #2: CONV => RELU => POOL
        model.add(layers.Conv2D(256, (5, 5), padding="same", kernel_regularizer=l2(reg)))
        model.add(layers.Activation("relu"))
        model.add(layers.BatchNormalization(axis=chanDim))
        model.add(layers.MaxPooling2D(pool_size=(3, 3), strides=(2, 2)))
        model.add(layers.Dropout(0.25))

        # Block #3: (CONV => RELU) x3 => POOL
        for filters in (384, 384, 256):
            model.add(layers.Conv2D(filters, (3, 3), padding="same",
                                    kernel_regularizer=l2(reg)))
            model.add(layers.Activation("relu"))
            model.add(layers.BatchNormalization(axis=chanDim))
        model.add(layers.MaxPooling2D(pool_size=(3, 3), strides=(2, 2)))
        model.add(layers.Dropout(0.25))

        # Block #4 and #5: (FC => RELU) x2
        model.add(layers.Flatten())
        for _ in range(2):
            model.add(layers.Dense(4096, kernel_regularizer=l2(reg)))
            model.add(layers.Activation("relu"))
            model.add(layers.BatchNormalization())
            model.add(layers.Dropout(0.5))

        model.add(layers.Dense(classes, kernel_regularizer=l2(reg)))
        model.add(layers.Activation("softmax", dtype="float32"))
        return model
