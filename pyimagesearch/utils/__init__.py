"""Utilities: ranked accuracy, learning-rate schedules, checkpoints, ensembles, over-sampling.

Every name is imported on first access, so `import pyimagesearch.utils` loads
neither matplotlib (`plot_history`) nor scikit-learn (`train_classifier`). The
ground-floor infrastructure (files, signals, progress, random draws, argument
checks) lives in `pyimagesearch.infra`.
"""

import importlib
import importlib.util

_LAZY = {
    "LearningRateDecay": "schedules",
    "PolynomialDecay": "schedules",
    "StepDecay": "schedules",
    "as_class_names": "evaluation",
    "check_checkpoint_path": "checkpoints",
    "ensemble_predict": "ensemble",
    "evaluate_classifier": "classifier",
    "evaluate_predictions": "evaluation",
    "history_figure": "plots",
    "load_checkpoint": "checkpoints",
    "load_classifier": "classifier",
    "plot_history": "plots",
    "predict_oversampled": "oversampling",
    "print_rank_accuracy": "evaluation",
    "rank5_accuracy": "ranked",
    "rank_accuracy": "ranked",
    "resume_epoch": "checkpoints",
    "train_classifier": "classifier",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")  # a submodule, as before
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
