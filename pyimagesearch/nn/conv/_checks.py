"""Argument checks and input geometry shared by the networks' `build` methods."""

import math

import keras

from pyimagesearch.infra.validation import check_int


def same(size, stride):
    """Output length of a 'same'-padded window with `stride`."""
    return math.ceil(size / stride)


def valid(size, kernel, stride):
    """Output length of a 'valid' window of `kernel` with `stride` (<1: too small)."""
    return (size - kernel) // stride + 1


def input_geometry(network, width, height, depth, classes, reduce=None):
    """Validates the common `build` arguments and returns the input layout.

    Args:
        network: the network's name, for error messages.
        width, height, depth, classes: the `build` arguments.
        reduce: optional function mapping an input side length to the side length
            of the network's final volume; the input is too small when it is < 1.

    Returns:
        `(inputShape, chanDim)` for `keras.config.image_data_format()`.

    Raises:
        ValueError: a non-positive size or class count, or an input too small.
    """
    width = check_int(width, "width")
    height = check_int(height, "height")
    depth = check_int(depth, "depth")
    check_int(classes, "classes")
    if reduce is not None:
        for name, size in (("width", width), ("height", height)):
            if reduce(size) < 1:
                smallest = next(n for n in range(size + 1, 100000) if reduce(n) >= 1)
                raise ValueError(
                    f"{name}={size} is too small for {network}'s down-sampling; "
                    f"expected at least {smallest}."
                )
    if keras.config.image_data_format() == "channels_first":
        return (depth, height, width), 1
    return (height, width, depth), -1
