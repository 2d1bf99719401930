"""Rank-1 and rank-5 accuracy of a saved classifier on the test rows of a features file.

The test rows are those after the first --split (as train-classifier used).
The classifier is the skops file train-classifier writes; a pickle from the
book's train_model.py is loaded only with --trust-pickle, as loading a pickle
runs its code. Rank-5 is shown only for more than 5 classes (with 5 or fewer
it is always 100%).
"""

HELP = "rank-1 and rank-5 accuracy of a saved classifier on an HDF5 features file"


def add_arguments(parser):
    parser.add_argument("-d", "--db", required=True, help="HDF5 features file")
    parser.add_argument("-m", "--model", required=True,
                        help="the classifier train-classifier saved (a skops file)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="also load a pickle (the book's train_model.py wrote one); "
                             "loading a pickle runs its code: only for a file you trust")
    parser.add_argument("--split", type=float, default=0.75,
                        help="fraction of rows used for training; the rest are scored (default: 0.75)")
    parser.add_argument("--key", default="features", help="features dataset name (default: features)")


def check_paths(args):
    """Checks --db and --model before the heavy imports."""
    from pyimagesearch.commands._paths import require_existing

    require_existing(args.db, "--db", "features file", folder=False)
    require_existing(args.model, "--model", "classifier file", folder=False)


def run(args):
    check_paths(args)
    import h5py

    from pyimagesearch.utils.classifier import evaluate_classifier
    from pyimagesearch.utils.evaluation import print_rank_accuracy

    (rank1, rank5) = evaluate_classifier(args.db, args.model, split=args.split, data_key=args.key,
                                         trust_pickle=args.trust_pickle)
    with h5py.File(args.db, "r") as db:
        classes = len(db["label_names"])
    print_rank_accuracy(rank1, rank5, classes)
    return 0
