"""Utilities: ranked accuracy, learning-rate schedules, checkpoints, ensembles, over-sampling."""

from pyimagesearch.utils.checkpoints import check_checkpoint_path, load_checkpoint, resume_epoch
from pyimagesearch.utils.classifier import evaluate_classifier, load_classifier, train_classifier
from pyimagesearch.utils.ensemble import ensemble_predict
from pyimagesearch.utils.evaluation import as_class_names, evaluate_predictions, print_rank_accuracy
from pyimagesearch.utils.oversampling import predict_oversampled
from pyimagesearch.utils.plots import history_figure, plot_history
from pyimagesearch.utils.ranked import rank5_accuracy, rank_accuracy
from pyimagesearch.utils.schedules import LearningRateDecay, PolynomialDecay, StepDecay

__all__ = [
    "LearningRateDecay",
    "PolynomialDecay",
    "StepDecay",
    "as_class_names",
    "check_checkpoint_path",
    "ensemble_predict",
    "evaluate_classifier",
    "evaluate_predictions",
    "history_figure",
    "load_checkpoint",
    "load_classifier",
    "plot_history",
    "predict_oversampled",
    "print_rank_accuracy",
    "rank5_accuracy",
    "rank_accuracy",
    "resume_epoch",
    "train_classifier",
]
