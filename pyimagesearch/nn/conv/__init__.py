"""The book's convolutional networks, each a class with a static `build` method."""

from pyimagesearch.nn.conv.alexnet import AlexNet
from pyimagesearch.nn.conv.deepergooglenet import DeeperGoogLeNet
from pyimagesearch.nn.conv.fcheadnet import FCHeadNet
from pyimagesearch.nn.conv.lenet import LeNet
from pyimagesearch.nn.conv.minigooglenet import MiniGoogLeNet
from pyimagesearch.nn.conv.minivggnet import MiniVGGNet
from pyimagesearch.nn.conv.registry import MODEL_NAMES, book_config, build_model
from pyimagesearch.nn.conv.resnet import ResNet
from pyimagesearch.nn.conv.shallownet import ShallowNet

__all__ = [
    "AlexNet",
    "DeeperGoogLeNet",
    "FCHeadNet",
    "LeNet",
    "MiniGoogLeNet",
    "MiniVGGNet",
    "ResNet",
    "ShallowNet",
    "MODEL_NAMES",
    "book_config",
    "build_model",
]
