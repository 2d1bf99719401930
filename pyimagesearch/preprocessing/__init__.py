"""Image preprocessors: `preprocess(image)` for one image, `preprocess_batch(images)` for many."""

from pyimagesearch.preprocessing.aspectawarepreprocessor import AspectAwarePreprocessor
from pyimagesearch.preprocessing.chain import apply_preprocessors
from pyimagesearch.preprocessing.croppreprocessor import CropPreprocessor
from pyimagesearch.preprocessing.imagetoarraypreprocessor import ImageToArrayPreprocessor
from pyimagesearch.preprocessing.meanpreprocessor import MeanPreprocessor
from pyimagesearch.preprocessing.patchpreprocessor import PatchPreprocessor
from pyimagesearch.preprocessing.simplepreprocessor import SimplePreprocessor

__all__ = [
    "AspectAwarePreprocessor",
    "CropPreprocessor",
    "ImageToArrayPreprocessor",
    "MeanPreprocessor",
    "PatchPreprocessor",
    "SimplePreprocessor",
    "apply_preprocessors",
]
