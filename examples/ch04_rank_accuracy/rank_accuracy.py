"""Rank-1 and rank-5 accuracy of a classifier trained on extracted features.

Practitioner Bundle, chapter 4 ("Understanding rank-1 & rank-5 Accuracy"),
rank_accuracy.py: loads the model written by chapter 3's train_model.py
and the features file, predicts class probabilities for the test rows (the
last 25%) and prints the rank-1 and rank-5 accuracy. Rank-1 is chapter 3's
accuracy (same model, same rows); the book runs it on Flowers-17 and
CALTECH-101, where rank-5 comes close to 100%. Rank-5 is shown only for more
than 5 classes (with 5 or fewer it is always 100%). A thin script over
pyimagesearch.utils.evaluate_classifier.

The model is the skops file train_model.py writes. A pickle, as the book's
train_model.py wrote, runs its code when loaded: it is read only with
--trust-pickle, for a file from a source you trust.

Usage:
    python rank_accuracy.py --db ../datasets/flowers17/hdf5/features.hdf5 \\
        --model ../ch03_feature_extraction/flowers17.skops
"""

import argparse

from pyimagesearch.cli import run_main


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--db", required=True, help="path to the HDF5 features file")
    parser.add_argument("-m", "--model", required=True,
                        help="path to the model train_model.py wrote (skops format)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="also load a pickle (the book's format); loading a pickle runs "
                             "its code: only for a file you trust")
    parser.add_argument("--split", type=float, default=0.75,
                        help="fraction of the rows used for training; the rest are "
                             "evaluated (default: 0.75, as train_model.py)")
    return parser


def run(args):
    import h5py

    from pyimagesearch.utils import evaluate_classifier, print_rank_accuracy

    print("[INFO] loading pre-trained model and predicting...")
    (rank1, rank5) = evaluate_classifier(args.db, args.model, split=args.split,
                                         trust_pickle=args.trust_pickle)
    with h5py.File(args.db, "r") as db:
        classes = len(db["label_names"])
    print_rank_accuracy(rank1, rank5, classes)


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
