"""Utilities: ranked accuracy, learning-rate schedules, ensembles, over-sampling."""

from pyimagesearch.utils.plots import plot_history
from pyimagesearch.utils.ranked import rank5_accuracy, rank_accuracy
