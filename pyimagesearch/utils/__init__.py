"""Utilities: ranked accuracy, learning-rate schedules, ensembles, over-sampling."""

from pyimagesearch.utils.ranked import rank5_accuracy, rank_accuracy
