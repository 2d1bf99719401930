"""HDF5 datasets: writing, streaming, building from image folders, feature extraction.

`HDF5DatasetGenerator` and `extract_features` import Keras on first access, so
the writer and the dataset builder (and its worker processes) stay light.
"""

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

_LAZY = {
    "HDF5DatasetGenerator": "pyimagesearch.io.hdf5datasetgenerator",
    "extract_features": "pyimagesearch.io.features",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
