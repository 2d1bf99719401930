"""Data augmentation: `ImageAugmenter`, the ImageDataGenerator that Keras 3 dropped.

`NumpyArrayIterator` (what `ImageAugmenter.flow` returns) imports Keras on first
access, so `augment_batch` users and worker processes stay light.
"""

import lazy_loader

from pyimagesearch.augmentation.imageaugmenter import ImageAugmenter

__getattr__, _, _ = lazy_loader.attach(__name__, submod_attrs={"numpyarrayiterator": ["NumpyArrayIterator"]})
__all__ = ["ImageAugmenter", "NumpyArrayIterator"]
