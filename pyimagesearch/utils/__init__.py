"""Utilities: ranked accuracy, learning-rate schedules, checkpoints, ensembles, over-sampling.

Every name is imported on first access, so `import pyimagesearch.utils` loads
neither matplotlib (`plot_history`) nor scikit-learn (`train_classifier`). The
ground-floor infrastructure (files, signals, progress, random draws, argument
checks) lives in `pyimagesearch.infra`.
"""

import lazy_loader

_NAMES = {
    "checkpoints": ["check_checkpoint_path", "load_checkpoint", "resume_epoch"],
    "classifier": ["evaluate_classifier", "load_classifier", "train_classifier"],
    "ensemble": ["ensemble_predict"],
    "evaluation": ["as_class_names", "evaluate_predictions", "print_rank_accuracy"],
    "oversampling": ["predict_oversampled"],
    "plots": ["history_figure", "plot_history"],
    "ranked": ["rank5_accuracy", "rank_accuracy"],
    "schedules": ["LearningRateDecay", "PolynomialDecay", "StepDecay"],
}
# every name, and every submodule (`pyimagesearch.utils.ranked`), loads on first access
__getattr__, __dir__, _ = lazy_loader.attach(__name__, submodules=_NAMES, submod_attrs=_NAMES)
__all__ = sorted(name for names in _NAMES.values() for name in names)
