"""Network names and the book's configurations, readable without importing Keras.

The command line and the example scripts check a network name here before
TensorFlow loads, so a typo is answered at once with the valid names.
"""

# name -> the `build` arguments of the book's configuration
BOOK_CONFIGS = {
    "shallownet": dict(width=32, height=32, depth=3, classes=3),
    "lenet": dict(width=28, height=28, depth=1, classes=10),
    "minivggnet": dict(width=32, height=32, depth=3, classes=10),
    "alexnet": dict(width=227, height=227, depth=3, classes=2, reg=0.0002),
    "minigooglenet": dict(width=32, height=32, depth=3, classes=10),
    "deepergooglenet": dict(width=64, height=64, depth=3, classes=200, reg=0.0002),
    "resnet": dict(width=32, height=32, depth=3, classes=10, stages=(9, 9, 9),
                   filters=(64, 64, 128, 256), reg=0.0005, dataset="cifar"),
}

# chapter 12's Tiny ImageNet ResNet, the "resnet" defaults when dataset="tiny_imagenet"
RESNET_TINY_IMAGENET = dict(width=64, height=64, depth=3, classes=200, stages=(3, 4, 6),
                            filters=(64, 128, 256, 512), reg=0.0005,
                            dataset="tiny_imagenet")

MODEL_NAMES = tuple(BOOK_CONFIGS)


def check_model_name(name, argument="name"):
    """Returns `name` lower-cased if it is one of the book's networks.

    Args:
        name: a network name, case-insensitive.
        argument: how the error message calls the argument (e.g. "--model").

    Returns:
        The lower-case name, a key of `BOOK_CONFIGS`.

    Raises:
        ValueError: `name` is not one of `MODEL_NAMES`; the message lists them.
    """
    key = str(name).lower()
    if key not in BOOK_CONFIGS:
        raise ValueError(f"Unknown network {argument}={name!r}; expected one of {list(MODEL_NAMES)}.")
    return key


def book_config(name, dataset=None):
    """Returns the `build` arguments the book trains network `name` with.

    Args:
        name: one of `MODEL_NAMES` (case-insensitive).
        dataset: for "resnet", "cifar" (default) or "tiny_imagenet".

    Returns:
        A new dict of keyword arguments for the network's `build`.

    Raises:
        ValueError: unknown `name`.
    """
    key = check_model_name(name)
    if key == "resnet" and dataset == "tiny_imagenet":
        return dict(RESNET_TINY_IMAGENET)
    return dict(BOOK_CONFIGS[key])
