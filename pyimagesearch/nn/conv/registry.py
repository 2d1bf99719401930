"""Build the book's networks by name, with the book's configurations as defaults."""

import inspect

from pyimagesearch.nn.conv.alexnet import AlexNet
from pyimagesearch.nn.conv.deepergooglenet import DeeperGoogLeNet
from pyimagesearch.nn.conv.lenet import LeNet
from pyimagesearch.nn.conv.minigooglenet import MiniGoogLeNet
from pyimagesearch.nn.conv.minivggnet import MiniVGGNet
from pyimagesearch.nn.conv.resnet import ResNet
from pyimagesearch.nn.conv.shallownet import ShallowNet
from pyimagesearch.nn.names import MODEL_NAMES, book_config  # noqa: F401 (re-exported)

# name -> the network's class; the names and configurations live in
# pyimagesearch.nn.names, which the command line reads without importing Keras
CLASSES = {
    "shallownet": ShallowNet,
    "lenet": LeNet,
    "minivggnet": MiniVGGNet,
    "alexnet": AlexNet,
    "minigooglenet": MiniGoogLeNet,
    "deepergooglenet": DeeperGoogLeNet,
    "resnet": ResNet,
}


def build_model(name, **kwargs):
    """Builds one of the book's networks by name.

    Arguments not given take the book's configuration (see `book_config`), e.g.
    `build_model("minigooglenet", classes=100)` or
    `build_model("resnet", dataset="tiny_imagenet")`.

    Args:
        name: one of `MODEL_NAMES` (case-insensitive).
        **kwargs: arguments of the network's `build`.

    Returns:
        An uncompiled `keras.Model`.

    Raises:
        ValueError: unknown `name`, an argument the network's `build` does not
            take, or an invalid argument value.
    """
    config = book_config(name, dataset=kwargs.get("dataset"))
    cls = CLASSES[str(name).lower()]
    accepted = inspect.signature(cls.build).parameters
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"{cls.__name__}.build does not take {unknown}; expected arguments from "
            f"{list(accepted)}."
        )
    config.update(kwargs)
    return cls.build(**config)
