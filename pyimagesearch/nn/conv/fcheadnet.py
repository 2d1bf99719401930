"""FCHeadNet: the fully-connected head of chapter 5's network surgery."""

import keras
from keras import layers

from pyimagesearch.infra.validation import check_int


class FCHeadNet:
    """FLATTEN => FC => RELU => DROPOUT => FC => SOFTMAX on top of a base model."""

    @staticmethod
    def build(baseModel, classes, D):
        """Builds the head on `baseModel`'s output, as the book does.

        Args:
            baseModel: a single-output `keras.Model` whose output the head takes
                (usually a network built with `include_top=False`).
            classes: number of output classes.
            D: number of units in the hidden fully-connected layer.

        Returns:
            The head's output tensor; wrap it as
            `keras.Model(inputs=baseModel.input, outputs=headModel)` (with
            `baseModel.inputs[0]` for a `keras.Sequential` base, which has no
            `input` in Keras 3).

        Raises:
            ValueError: `baseModel` is not a single-output Keras model, or a
                non-positive `classes` or `D`.
        """
        if not isinstance(baseModel, keras.Model):
            raise ValueError(
                f"baseModel must be a keras.Model, got {type(baseModel).__name__}."
            )
        if len(baseModel.outputs) != 1:
            raise ValueError(
                f"baseModel must have exactly one output, got {len(baseModel.outputs)}."
            )
        classes = check_int(classes, "classes")
        D = check_int(D, "D")
        # `outputs` rather than the book's `output`: Keras 3 Sequential lacks `output`
        headModel = baseModel.outputs[0]
        headModel = layers.Flatten(name="flatten")(headModel)
        headModel = layers.Dense(D, activation="relu")(headModel)
        headModel = layers.Dropout(0.5)(headModel)
        headModel = layers.Dense(classes, activation="softmax", dtype="float32")(headModel)
        return headModel
