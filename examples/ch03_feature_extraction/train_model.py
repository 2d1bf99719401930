"""Train a Logistic Regression classifier on extracted features.

Practitioner Bundle, chapter 3 ("Networks as Feature Extractors"),
train_model.py: a 3-fold grid search over C in {0.1, 1, 10, 100, 1000, 10000}
on the first 75% of the rows of the features file written by
extract_features.py, a classification report on the remaining 25%, and the
best estimator saved to --model. A thin script over
pyimagesearch.utils.train_classifier. The book reports 98% (Animals),
96% (CALTECH-101) and 93% (Flowers-17) accuracy with ImageNet VGG16 features.

The book pickled the model; a pickle runs its code when loaded, so the model
is saved with skops.io instead (scikit-learn's secure format), which
rank_accuracy.py (chapter 4) reads without running code.

Usage:
    python train_model.py --db ../datasets/animals/hdf5/features.hdf5 \\
        --model animals.skops
"""

import argparse

from pyimagesearch.cli import run_main


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--db", required=True, help="path to the HDF5 features file")
    parser.add_argument("-m", "--model", required=True, help="path of the model to write (skops format)")
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
                              max_iter=args.max_iter, verbose=0)
    print(f"[INFO] best hyperparameters: {result['best_params']}")
    print("[INFO] evaluating...")
    print(result["report"])
    print(f"[INFO] rank-1: {result['accuracy'] * 100:.2f}%")
    print(f"[INFO] saved model to {args.model} (skops format)")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
