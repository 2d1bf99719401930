"""HDF5 datasets: writing, streaming, building from image folders, feature extraction.

`HDF5DatasetGenerator` and `extract_features` import Keras on first access, so
the writer and the dataset builder (and its worker processes) stay light.
"""

import lazy_loader

from pyimagesearch.datasets.labelled import labelled_images
from pyimagesearch.io.build import BuildReport, build_hdf5_splits
from pyimagesearch.io.buildid import check_same_build, read_build_id
from pyimagesearch.io.hdf5datasetwriter import HDF5DatasetWriter
from pyimagesearch.io.splitplan import SplitPlan, plan_splits

__all__ = [
    "BuildReport",
    "HDF5DatasetGenerator",
    "HDF5DatasetWriter",
    "SplitPlan",
    "build_hdf5_splits",
    "check_same_build",
    "extract_features",
    "labelled_images",
    "plan_splits",
    "read_build_id",
]

# HDF5DatasetGenerator and extract_features load on first access (lazy_loader)
__getattr__, _, _ = lazy_loader.attach(__name__, submod_attrs={
    "hdf5datasetgenerator": ["HDF5DatasetGenerator"],
    "features": ["extract_features"],
})


def __dir__():
    return sorted(set(globals()) | set(__all__))
