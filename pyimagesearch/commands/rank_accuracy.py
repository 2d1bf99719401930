"""Rank-1 and rank-5 accuracy of a pickled classifier on the test rows of a features file.

The test rows are those after the first --split (as train-classifier used).
Only load pickles from a trusted source: loading one runs code.
"""

HELP = "rank-1 and rank-5 accuracy of a pickled classifier on an HDF5 features file"


def add_arguments(parser):
    parser.add_argument("-d", "--db", required=True, help="HDF5 features file")
    parser.add_argument("-m", "--model", required=True, help="pickled classifier")
    parser.add_argument("--split", type=float, default=0.75,
                        help="fraction of rows used for training; the rest are scored (default: 0.75)")
    parser.add_argument("--key", default="features", help="features dataset name (default: features)")


def run(args):
    from pyimagesearch.utils.classifier import evaluate_classifier

    (rank1, rank5) = evaluate_classifier(args.db, args.model, split=args.split, dataKey=args.key)
    print(f"[INFO] rank-1: {rank1 * 100:.2f}%")
    print(f"[INFO] rank-5: {rank5 * 100:.2f}%")
    return 0
