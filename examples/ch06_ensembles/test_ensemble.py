"""Evaluate an ensemble of the networks trained by train_models.py on CIFAR-10.

Practitioner Bundle, chapter 6 ("Improving Accuracy with Network Ensembles"),
test_ensemble.py: loads every model_*.keras of --models, averages their
predicted probabilities on the CIFAR-10 test set
(pyimagesearch.utils.ensemble_predict) and prints each member's rank-1, then
the ensemble's classification report, rank-1 and rank-5. The book reports
84% for the ensemble of 5 MiniVGGNets, against about 83% for one.

Usage:
    python test_ensemble.py --models models
"""

import argparse

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--models", required=True,
                        help="folder of the models (model_*.keras) to average")
    parser.add_argument("--cifar-dir", default=None,
                        help="extracted cifar-10-batches-py folder (default: download "
                             "through keras.datasets)")
    parser.add_argument("-b", "--batch-size", type=int, default=64,
                        help="batch size of the predictions (default: 64)")
    return parser


def run(args):
    import glob
    import os

    from pyimagesearch.datasets import CIFAR10_LABELS, load_cifar10
    from pyimagesearch.utils import ensemble_predict, evaluate_predictions, rank5_accuracy

    modelPaths = sorted(glob.glob(os.path.join(args.models, "model_*.keras")))
    if not modelPaths:
        books = glob.glob(os.path.join(args.models, "*.model"))
        raise FileNotFoundError(
            f"no model_*.keras files in --models {args.models!r}, so there is no ensemble to evaluate"
            + (f"; its {len(books)} *.model files are the book's Keras 2 saves, which Keras 3 does not "
               "load: train the members again with train_models.py" if books else "") + ".")

    print("[INFO] loading CIFAR-10 test data...")
    (_, (testX, testY)) = load_cifar10(args.cifar_dir)
    testX = testX.astype("float32") / 255.0
    labelNames = list(CIFAR10_LABELS)

    with tensorflow_start_up_filtered():  # the checks passed: Keras loads, without TensorFlow's start-up lines
        import_keras()
    print(f"[INFO] evaluating {len(modelPaths)} models...")
    (predictions, members) = ensemble_predict(modelPaths, testX, batch_size=args.batch_size)
    for (path, memberPredictions) in zip(modelPaths, members):
        (rank1, _) = rank5_accuracy(memberPredictions, testY)
        print(f"[INFO] {os.path.basename(path)} rank-1: {rank1 * 100:.2f}%")

    print("[INFO] ensemble:")
    evaluate_predictions(predictions, testY, labelNames)


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
