"""Data augmentation: `ImageAugmenter`, the ImageDataGenerator that Keras 3 dropped.

`NumpyArrayIterator` (what `ImageAugmenter.flow` returns) imports Keras on first
access, so `augment_batch` users and worker processes stay light.
"""

from pyimagesearch.augmentation.imageaugmenter import ImageAugmenter

__all__ = ["ImageAugmenter", "NumpyArrayIterator"]


def __getattr__(name):
    if name == "NumpyArrayIterator":
        from pyimagesearch.augmentation.numpyarrayiterator import NumpyArrayIterator

        return NumpyArrayIterator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
