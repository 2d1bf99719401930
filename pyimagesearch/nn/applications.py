"""`keras.applications` networks with offline-safe weight loading.

`weights="imagenet"` downloads on first use. Offline, Keras raises a stack of
socket errors; here it becomes one sentence naming the file to supply instead.
"""

import os
import re

# registry name -> keras.applications constructor name
APPLICATIONS = {
    "vgg16": "VGG16",
    "vgg19": "VGG19",
    "resnet50": "ResNet50",
    "resnet50v2": "ResNet50V2",
    "inceptionv3": "InceptionV3",
    "xception": "Xception",
    "mobilenetv2": "MobileNetV2",
    "densenet121": "DenseNet121",
    "efficientnetb0": "EfficientNetB0",
}


class WeightsUnavailableError(FileNotFoundError):
    """Pretrained weights are neither cached nor downloadable."""


def build_application(name, include_top=True, weights="imagenet", input_shape=None, **kwargs):
    """Builds a `keras.applications` network.

    Args:
        name: a key of `APPLICATIONS` (case-insensitive), e.g. "vgg16".
        include_top: whether to keep the fully-connected classifier.
        weights: "imagenet" (download or Keras cache), "none"/None (random
            initialisation) or the path of a weights file (`.h5`/`.weights.h5`).
        input_shape: optional input shape, e.g. `(224, 224, 3)`.
        **kwargs: passed on to the constructor (e.g. `pooling="avg"`).

    Returns:
        An uncompiled `keras.Model`.

    Raises:
        ValueError: unknown `name`.
        FileNotFoundError: `weights` is a path that does not exist.
        WeightsUnavailableError: ImageNet weights cannot be downloaded.
    """
    key = str(name).lower()
    if key not in APPLICATIONS:
        raise ValueError(
            f"Unknown network name={name!r}; expected one of {sorted(APPLICATIONS)}."
        )
    if weights is None or str(weights).lower() == "none":
        weights = None
    elif weights != "imagenet":
        weights = os.fspath(weights)
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"weights file not found: {weights!r}")
    import keras  # after the checks, so that bad arguments fail without loading a backend

    constructor = getattr(keras.applications, APPLICATIONS[key])
    try:
        return constructor(
            include_top=include_top, weights=weights, input_shape=input_shape, **kwargs
        )
    except Exception as error:  # Keras wraps network failures in a bare Exception
        if weights != "imagenet" or not _is_download_failure(error):
            raise
        filename = _weights_filename(error) or "the network's ImageNet weights file"
        raise WeightsUnavailableError(
            f"Could not download ImageNet weights for {name} (no network?): fetch "
            f"{filename} on a connected machine and pass it with --weights PATH "
            f"(or weights=PATH), or place it in ~/.keras/models/."
        ) from None


def _is_download_failure(error):
    text = str(error)
    return "URL fetch failure" in text or "Network error" in text or isinstance(error, OSError)


def _weights_filename(error):
    match = re.search(r"https?://\S+?/([^/\s:]+\.h5)", str(error))
    return match.group(1) if match else None
