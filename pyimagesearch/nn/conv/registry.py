"""Build the book's networks by name, with the book's configurations as defaults."""

import inspect

from pyimagesearch.nn.conv.alexnet import AlexNet
from pyimagesearch.nn.conv.deepergooglenet import DeeperGoogLeNet
from pyimagesearch.nn.conv.lenet import LeNet
from pyimagesearch.nn.conv.minigooglenet import MiniGoogLeNet
from pyimagesearch.nn.conv.minivggnet import MiniVGGNet
from pyimagesearch.nn.conv.resnet import ResNet
from pyimagesearch.nn.conv.shallownet import ShallowNet

# name -> (class, the `build` arguments of the book's configuration)
MODELS = {
    "shallownet": (ShallowNet, dict(width=32, height=32, depth=3, classes=3)),
    "lenet": (LeNet, dict(width=28, height=28, depth=1, classes=10)),
    "minivggnet": (MiniVGGNet, dict(width=32, height=32, depth=3, classes=10)),
    "alexnet": (AlexNet, dict(width=227, height=227, depth=3, classes=2, reg=0.0002)),
    "minigooglenet": (MiniGoogLeNet, dict(width=32, height=32, depth=3, classes=10)),
    "deepergooglenet": (
        DeeperGoogLeNet, dict(width=64, height=64, depth=3, classes=200, reg=0.0002)
    ),
    "resnet": (
        ResNet,
        dict(width=32, height=32, depth=3, classes=10, stages=(9, 9, 9),
             filters=(64, 64, 128, 256), reg=0.0005, dataset="cifar"),
    ),
}

# chapter 12's Tiny ImageNet ResNet, the "resnet" defaults when dataset="tiny_imagenet"
RESNET_TINY_IMAGENET = dict(width=64, height=64, depth=3, classes=200, stages=(3, 4, 6),
                            filters=(64, 128, 256, 512), reg=0.0005,
                            dataset="tiny_imagenet")

MODEL_NAMES = tuple(MODELS)


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
    key = str(name).lower()
    if key not in MODELS:
        raise ValueError(f"Unknown network name={name!r}; expected one of {list(MODELS)}.")
    if key == "resnet" and dataset == "tiny_imagenet":
        return dict(RESNET_TINY_IMAGENET)
    return dict(MODELS[key][1])


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
    cls = MODELS[str(name).lower()][0]
    accepted = inspect.signature(cls.build).parameters
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"{cls.__name__}.build does not take {unknown}; expected arguments from "
            f"{list(accepted)}."
        )
    config.update(kwargs)
    return cls.build(**config)
