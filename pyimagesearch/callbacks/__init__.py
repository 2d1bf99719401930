"""Keras callbacks for long training runs: `TrainingMonitor`, `EpochCheckpoint`."""

from pyimagesearch.callbacks.epochcheckpoint import EpochCheckpoint
from pyimagesearch.callbacks.folderlock import FolderInUseError
from pyimagesearch.callbacks.trainingmonitor import TrainingMonitor

__all__ = ["EpochCheckpoint", "FolderInUseError", "TrainingMonitor"]
