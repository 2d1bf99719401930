"""Train a logistic-regression classifier on extracted features (the book's train_model.py).

Grid-searches C with 3-fold cross-validation on the first --split of the rows
of a features HDF5 file (datasets features, labels, label_names), prints the
classification report and accuracy on the remaining rows and saves the best
estimator with skops.io (scikit-learn's secure format; the book pickled it,
but loading a pickle runs its code). rank-accuracy reads the file.
"""

HELP = "grid-search a LogisticRegression on an HDF5 features file and save it (skops)"


def add_arguments(parser):
    parser.add_argument("-d", "--db", required=True, help="HDF5 features file")
    parser.add_argument("-m", "--model", required=True,
                        help="classifier file to write, in skops format (e.g. model.skops)")
    parser.add_argument("-j", "--jobs", type=int, default=-1,
                        help="parallel jobs of the grid search (default: -1, all cores)")
    parser.add_argument("--split", type=float, default=0.75,
                        help="fraction of rows used for training (default: 0.75)")
    parser.add_argument("--key", default="features", help="features dataset name (default: features)")
    parser.add_argument("--max-iter", type=int, default=150,
                        help="solver iterations (default: 150)")


def check_paths(args):
    """Checks --db and --model before the heavy imports."""
    from pyimagesearch.commands._paths import check_output_file, require_existing

    require_existing(args.db, "--db", "features file", folder=False)
    check_output_file(args.model, "--model")


def run(args):
    check_paths(args)
    from pyimagesearch.utils.classifier import train_classifier

    print("[INFO] tuning hyperparameters...")
    train_classifier(args.db, args.model, jobs=args.jobs, split=args.split,
                     data_key=args.key, max_iter=args.max_iter)
    print(f"[INFO] saved model to {args.model} (skops format)")
    return 0
