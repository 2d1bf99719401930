"""Dataset loading: SimpleDatasetLoader, image listing and label-from-path helpers."""

from pyimagesearch.datasets.paths import (
    IMAGE_EXTENSIONS,
    label_from_parent,
    label_from_prefix,
    list_images,
)
from pyimagesearch.datasets.simpledatasetloader import SimpleDatasetLoader

__all__ = [
    "IMAGE_EXTENSIONS",
    "SimpleDatasetLoader",
    "label_from_parent",
    "label_from_prefix",
    "list_images",
]
