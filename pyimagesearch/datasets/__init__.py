"""Datasets: SimpleDatasetLoader, image listing, label-from-path helpers, CIFAR-10, Tiny ImageNet metadata, the demo digits."""

from pyimagesearch.datasets.cifar10 import CIFAR10_LABELS, load_cifar10, prepare_cifar10
from pyimagesearch.datasets.digits import write_digits_dataset
from pyimagesearch.datasets.labelled import labelled_images
from pyimagesearch.datasets.paths import (
    IMAGE_EXTENSIONS,
    MAX_IMAGE_PIXELS,
    label_from_parent,
    label_from_prefix,
    list_images,
    scan_images,
)
from pyimagesearch.datasets.simpledatasetloader import SimpleDatasetLoader
from pyimagesearch.datasets.tinyimagenet import read_val_annotations, read_wnids, readable_names

__all__ = [
    "CIFAR10_LABELS",
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "SimpleDatasetLoader",
    "label_from_parent",
    "label_from_prefix",
    "labelled_images",
    "list_images",
    "load_cifar10",
    "prepare_cifar10",
    "read_val_annotations",
    "read_wnids",
    "readable_names",
    "scan_images",
    "write_digits_dataset",
]
