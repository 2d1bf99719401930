"""`keras.applications` networks with offline-safe weight loading.

`weights="imagenet"` downloads on first use. Offline, Keras raises a stack of
socket errors; here it becomes one sentence naming the file to supply instead.
"""

import os
import re
import socket
import threading

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


# name -> the ImageNet weights files Keras caches in ~/.keras/models/ (with, without the top)
WEIGHTS_FILES = {
    "vgg16": ("vgg16_weights_tf_dim_ordering_tf_kernels.h5",
              "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "vgg19": ("vgg19_weights_tf_dim_ordering_tf_kernels.h5",
              "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "resnet50": ("resnet50_weights_tf_dim_ordering_tf_kernels.h5",
                 "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "resnet50v2": ("resnet50v2_weights_tf_dim_ordering_tf_kernels.h5",
                   "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "inceptionv3": ("inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
                    "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "xception": ("xception_weights_tf_dim_ordering_tf_kernels.h5",
                 "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "mobilenetv2": ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
                    "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"),
    "densenet121": ("densenet121_weights_tf_dim_ordering_tf_kernels.h5",
                    "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "efficientnetb0": ("efficientnetb0.h5", "efficientnetb0_notop.h5"),
}
# where Keras downloads them from, and how long the look costs offline at most
WEIGHTS_HOST = ("storage.googleapis.com", 443)
PROBE_SECONDS = 5.0


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
    key = _check_name(name)
    if weights is None or str(weights).lower() == "none":
        weights = None
    elif weights == "imagenet":
        check_imagenet_weights(key, include_top)
    else:
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


def check_imagenet_weights(name, include_top=True):
    """Answers at once, before Keras loads, when ImageNet weights cannot be had.

    The weights are there when Keras' cache (`$KERAS_HOME/models` or
    `~/.keras/models`) holds the file, or when its download host answers
    within `PROBE_SECONDS`. Offline, the answer comes in seconds instead of
    after TensorFlow and the network have loaded.

    Args:
        name: a key of `APPLICATIONS` (case-insensitive).
        include_top: whether the weights with the classifier are needed.

    Raises:
        ValueError: unknown `name`.
        WeightsUnavailableError: neither cached nor downloadable, naming the file.
    """
    key = _check_name(name)
    filename = WEIGHTS_FILES[key][0 if include_top else 1]
    homes = [os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"), os.path.join("/tmp", ".keras")]
    if any(os.path.isfile(os.path.join(os.path.expanduser(home), "models", filename)) for home in homes):
        return
    if _reachable(WEIGHTS_HOST, PROBE_SECONDS):
        return
    raise WeightsUnavailableError(
        f"Could not download ImageNet weights for {name} (no network: {WEIGHTS_HOST[0]} did not "
        f"answer within {PROBE_SECONDS:.0f} s): fetch {filename} on a connected machine and pass it "
        f"with --weights PATH (or weights=PATH), or place it in ~/.keras/models/."
    )


def _check_name(name):
    key = str(name).lower()
    if key not in APPLICATIONS:
        raise ValueError(
            f"Unknown network name={name!r}; expected one of {sorted(APPLICATIONS)}."
        )
    return key


def _reachable(address, seconds):
    """Whether a TCP connection to `address` opens within `seconds` (name look-up included)."""
    (opened, done) = (threading.Event(), threading.Event())

    def connect():  # in a thread: a name look-up has no timeout of its own
        try:
            socket.create_connection(address, timeout=seconds).close()
            opened.set()
        except OSError:
            pass
        finally:
            done.set()

    threading.Thread(target=connect, daemon=True).start()
    done.wait(seconds)
    return opened.is_set()


def _is_download_failure(error):
    text = str(error)
    return "URL fetch failure" in text or "Network error" in text or isinstance(error, OSError)


def _weights_filename(error):
    match = re.search(r"https?://\S+?/([^/\s:]+\.h5)", str(error))
    return match.group(1) if match else None
