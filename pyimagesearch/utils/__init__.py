"""Utilities: ranked accuracy, learning-rate schedules, ensembles, over-sampling."""

from pyimagesearch.utils.plots import plot_history
from pyimagesearch.utils.ranked import rank5_accuracy, rank_accuracy
from pyimagesearch.utils.checkpoints import load_checkpoint, resume_epoch
from pyimagesearch.utils.classifier import evaluate_classifier, train_classifier
from pyimagesearch.utils.ensemble import ensemble_predict
from pyimagesearch.utils.evaluation import evaluate_predictions
from pyimagesearch.utils.oversampling import predict_oversampled
from pyimagesearch.utils.schedules import LearningRateDecay, PolynomialDecay, StepDecay
