"""Train a Logistic Regression classifier on the Dogs vs. Cats ResNet50 features.

Practitioner Bundle, chapter 10 ("Competing in Kaggle: Dogs vs. Cats"),
train_model.py: a 3-fold grid search over C in {0.0001, 0.001, 0.01, 0.1, 1.0}
on the first 75% of the rows written by extract_features.py, a classification
report on the remaining 25%, the accuracy printed with full precision, and the
best estimator saved. A thin script over pyimagesearch.utils.train_classifier.
The book reports 98.69% accuracy (the top-25 of the Kaggle leaderboard).

The book pickled the model; a pickle runs its code when loaded, so the model
is saved with skops.io instead (scikit-learn's secure format).

Usage:
    python train_model.py
    python train_model.py --db ../datasets/kaggle_dogs_vs_cats/hdf5/features.hdf5 \\
        --model dogs_vs_cats.skops
"""

import argparse

from pyimagesearch.cli import run_main
from config import dogs_vs_cats_config as config  # puts examples/ on sys.path


# the book's grid for the ResNet50 features
C_GRID = [0.0001, 0.001, 0.01, 0.1, 1.0]


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--db", default=config.FEATURES_HDF5,
                        help=f"path to the HDF5 features file (default: {config.FEATURES_HDF5})")
    parser.add_argument("-m", "--model", default=config.CLASSIFIER_PATH,
                        help=f"path of the model to write, skops format (default: {config.CLASSIFIER_PATH})")
    parser.add_argument("-j", "--jobs", type=int, default=-1,
                        help="parallel jobs of the grid search (default: -1, all cores)")
    parser.add_argument("--split", type=float, default=0.75,
                        help="fraction of the rows used for training (default: 0.75)")
    parser.add_argument("--max-iter", type=int, default=150,
                        help="iterations of the logistic regression's solver (default: 150); "
                             "one line says when the chosen model stopped at the limit")
    return parser


def run(args):
    from pyimagesearch.utils import train_classifier

    print("[INFO] tuning hyperparameters...")
    result = train_classifier(args.db, args.model, jobs=args.jobs, split=args.split,
                              params={"C": C_GRID}, max_iter=args.max_iter,
                              verbose=0)
    print(f"[INFO] best hyperparameters: {result['best_params']}")
    print("[INFO] evaluating...")
    print(result["report"])
    print(f"[INFO] score: {result['accuracy']!r}")
    print(f"[INFO] rank-1: {result['accuracy'] * 100:.2f}%")
    print(f"[INFO] saved model to {args.model} (skops format)")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
