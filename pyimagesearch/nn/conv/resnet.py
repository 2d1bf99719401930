"""ResNet: chapter 12's pre-activation bottleneck ResNet (CIFAR-10, Tiny ImageNet)."""

import keras
from keras import layers
from keras.regularizers import l2

from pyimagesearch.nn.conv._checks import input_geometry
from pyimagesearch.infra.validation import check_choice, check_int, check_number

DATASETS = ("cifar", "tiny_imagenet")
# the book's residual_module default, which its build never overrides
RESIDUAL_MODULE_REG = 0.0001


class ResNet:
    """A BN => CONV stem, stacks of residual modules, then BN => RELU => POOL => FC."""

    @staticmethod
    def residual_module(data, K, stride, chanDim, red=False, reg=RESIDUAL_MODULE_REG,
                        bnEps=2e-5, bnMom=0.9):
        """Pre-activation bottleneck: (BN => RELU => CONV) x3 plus the shortcut.

        Args:
            data: input tensor.
            K: filters of the final 1x1 CONV (the first two learn `K / 4`).
            stride: strides of the 3x3 CONV, e.g. `(2, 2)` to down-sample.
            chanDim: channel axis (-1 for channels_last, 1 for channels_first).
            red: whether to reduce the shortcut with a 1x1 CONV (needed when the
                shape changes).
            reg: L2 regularisation strength on the kernels.
            bnEps: batch normalisation epsilon.
            bnMom: batch normalisation momentum.

        Returns:
            The output tensor.
        """
        shortcut = data

        bn1 = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(data)
        act1 = layers.Activation("relu")(bn1)
        conv1 = layers.Conv2D(int(K * 0.25), (1, 1), use_bias=False,
                              kernel_regularizer=l2(reg))(act1)

        bn2 = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(conv1)
        act2 = layers.Activation("relu")(bn2)
        conv2 = layers.Conv2D(int(K * 0.25), (3, 3), strides=stride, padding="same",
                              use_bias=False, kernel_regularizer=l2(reg))(act2)

        bn3 = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(conv2)
        act3 = layers.Activation("relu")(bn3)
        conv3 = layers.Conv2D(K, (1, 1), use_bias=False, kernel_regularizer=l2(reg))(act3)

        if red:
            shortcut = layers.Conv2D(K, (1, 1), strides=stride, use_bias=False,
                                     kernel_regularizer=l2(reg))(act1)

        return layers.add([conv3, shortcut])

    @staticmethod
    def build(width, height, depth, classes, stages, filters, reg=0.0001, bnEps=2e-5,
              bnMom=0.9, dataset="cifar", module_reg=None):
        """Builds ResNet.

        Args:
            width, height, depth: input image size and channels.
            classes: number of output classes.
            stages: residual modules per stage, e.g. `(9, 9, 9)`.
            filters: the stem's filters followed by each stage's, so one more
                than `stages`, e.g. `(64, 64, 128, 256)`; stage filters >= 4.
            reg: L2 regularisation strength on the stem's CONV and the final
                FC kernels (the book's `build` passes it to no residual module).
            bnEps: batch normalisation epsilon (> 0).
            bnMom: batch normalisation momentum, in [0, 1).
            dataset: "cifar" (3x3 CONV stem) or "tiny_imagenet" (5x5 CONV =>
                BN => RELU => ZERO PAD => POOL stem).
            module_reg: L2 strength on the residual modules' CONV kernels;
                None keeps the book's, `residual_module`'s default 1e-4
                whatever `reg` is. Pass `module_reg=reg` for one strength
                throughout.

        Returns:
            An uncompiled `keras.Model` with a softmax output.

        Raises:
            ValueError: any argument outside the ranges above.
        """
        check_choice(dataset, "dataset", DATASETS)
        inputShape, chanDim = input_geometry("ResNet", width, height, depth, classes)
        stages, filters = _check_stages(stages, filters)
        reg = check_number(reg, "reg", minimum=0)
        if module_reg is None:
            module_reg = RESIDUAL_MODULE_REG
        module_reg = check_number(module_reg, "module_reg", minimum=0)
        bnEps = check_number(bnEps, "bnEps", minimum=0, include_minimum=False)
        bnMom = check_number(bnMom, "bnMom", minimum=0, maximum=1, include_maximum=False)

        inputs = keras.Input(shape=inputShape)
        x = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(inputs)
        if dataset == "cifar":
            x = layers.Conv2D(filters[0], (3, 3), use_bias=False, padding="same",
                              kernel_regularizer=l2(reg))(x)
        else:
            x = layers.Conv2D(filters[0], (5, 5), use_bias=False, padding="same",
                              kernel_regularizer=l2(reg))(x)
            x = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(x)
            x = layers.Activation("relu")(x)
            x = layers.ZeroPadding2D((1, 1))(x)
            x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)

        for i, count in enumerate(stages):
            stride = (1, 1) if i == 0 else (2, 2)
            x = ResNet.residual_module(x, filters[i + 1], stride, chanDim, red=True,
                                       reg=module_reg, bnEps=bnEps, bnMom=bnMom)
            for _ in range(count - 1):
                x = ResNet.residual_module(x, filters[i + 1], (1, 1), chanDim,
                                           reg=module_reg, bnEps=bnEps, bnMom=bnMom)

        x = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(x)
        x = layers.Activation("relu")(x)
        # the book's 8x8 average pool covers the whole 8x8 volume at its input sizes
        x = layers.GlobalAveragePooling2D()(x)

        x = layers.Flatten()(x)
        x = layers.Dense(classes, kernel_regularizer=l2(reg))(x)
        x = layers.Activation("softmax", dtype="float32")(x)
        return keras.Model(inputs, x, name="resnet")


def _check_stages(stages, filters):
    try:
        stages, filters = tuple(stages), tuple(filters)
    except TypeError:
        raise ValueError(
            f"stages and filters must be sequences of integers, got {stages!r} "
            f"and {filters!r}."
        ) from None
    if not stages:
        raise ValueError("stages must hold at least one stage, got an empty sequence.")
    if len(filters) != len(stages) + 1:
        raise ValueError(
            f"filters must hold len(stages) + 1 = {len(stages) + 1} values (the stem's "
            f"then each stage's), got {len(filters)}."
        )
    for i, count in enumerate(stages):
        check_int(count, f"stages[{i}]")
    check_int(filters[0], "filters[0]")
    for i, count in enumerate(filters[1:], start=1):
        if check_int(count, f"filters[{i}]") < 4:
            raise ValueError(
                f"filters[{i}] must be at least 4 (the bottleneck learns filters / 4), "
                f"got {count}."
            )
    return tuple(int(s) for s in stages), tuple(int(f) for f in filters)
