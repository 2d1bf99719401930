"""Compare optimizers: one network, one dataset, the same start, seven optimizers.

Practitioner Bundle, chapter 7 ("Optimization Methods and Regularization
Techniques"), which discusses SGD, SGD with Nesterov momentum, RMSprop, Adam,
Nadam, Adagrad and Adadelta in prose only. This script runs the experiment:
MiniVGGNet on CIFAR-10, trained once per optimizer from identical initial
weights, with identical seeds (data order, dropout), each optimizer at the
default learning rate of the Keras 2 the book used. It writes one figure with
the validation loss and validation accuracy of every optimizer per epoch
(optimizers.png) and a table of final figures, printed and saved as
optimizers.csv and optimizers.json (the JSON also holds every history).

CIFAR-10 comes from keras.datasets when online, or from an extracted
cifar-10-batches-py folder given with --cifar-dir; --subset N trains on the
first N training images only, for a quicker comparison.

Usage:
    python compare_optimizers.py --output output --subset 10000 --epochs 20
    python compare_optimizers.py --optimizers sgd_nesterov adam --epochs 40
"""

import argparse

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered

# name -> (keras.optimizers class, keyword arguments, label); the learning
# rates are Keras 2's defaults, the ones the book discusses
OPTIMIZERS = {
    "sgd": ("SGD", {"learning_rate": 0.01}, "SGD"),
    "sgd_nesterov": ("SGD", {"learning_rate": 0.01, "momentum": 0.9, "nesterov": True},
                     "SGD + Nesterov momentum"),
    "rmsprop": ("RMSprop", {"learning_rate": 0.001}, "RMSprop"),
    "adam": ("Adam", {"learning_rate": 0.001}, "Adam"),
    "nadam": ("Nadam", {"learning_rate": 0.002}, "Nadam"),
    "adagrad": ("Adagrad", {"learning_rate": 0.01}, "Adagrad"),
    "adadelta": ("Adadelta", {"learning_rate": 1.0, "rho": 0.95}, "Adadelta"),
}
COLUMNS = ("optimizer", "learning_rate", "loss", "accuracy", "val_loss", "val_accuracy",
           "best_val_accuracy", "best_epoch", "seconds", "initial_weights_sha1")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default="output",
                        help="folder of the plot and the tables (default: output)")
    parser.add_argument("--optimizers", nargs="+", choices=list(OPTIMIZERS),
                        default=list(OPTIMIZERS), metavar="NAME",
                        help=f"optimizers to compare, among {', '.join(OPTIMIZERS)} "
                             "(default: all)")
    parser.add_argument("--cifar-dir", default=None,
                        help="extracted cifar-10-batches-py folder (default: download "
                             "through keras.datasets)")
    parser.add_argument("--subset", type=int, default=None,
                        help="train on the first N training images only (default: all)")
    parser.add_argument("-e", "--epochs", type=int, default=40,
                        help="training epochs per optimizer (default: 40)")
    parser.add_argument("-b", "--batch-size", type=int, default=64,
                        help="mini-batch size (default: 64)")
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of the initial weights, data order and dropout (default: 42)")
    return parser


def weights_digest(model):
    """SHA-1 of a model's weights: equal digests mean identical starting points."""
    import hashlib

    digest = hashlib.sha1()
    for weights in model.get_weights():
        digest.update(weights.tobytes())
    return digest.hexdigest()


def plot_comparison(histories, labels, path):
    """One figure: validation loss and validation accuracy per epoch, one line per optimizer."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 5))
    (lossAxes, accAxes) = figure.subplots(1, 2)
    for (name, history) in histories.items():
        epochs = range(1, len(history["val_loss"]) + 1)
        lossAxes.plot(epochs, history["val_loss"], label=labels[name])
        accAxes.plot(epochs, history["val_accuracy"], label=labels[name])
    for (axes, title) in ((lossAxes, "Validation loss"), (accAxes, "Validation accuracy")):
        axes.set_title(title)
        axes.set_xlabel("Epoch #")
        axes.grid(True, alpha=0.3)
        axes.legend()
    figure.suptitle("MiniVGGNet on CIFAR-10: optimizers compared")
    figure.savefig(path, format="png")


def run(args):
    import csv
    import json
    import os
    import time

    from pyimagesearch.datasets import CIFAR10_LABELS, prepare_cifar10

    if args.epochs < 1 or args.batch_size < 1:
        raise ValueError("--epochs and --batch-size must be positive integers.")
    if args.subset is not None and args.subset < 1:
        raise ValueError(f"--subset must be a positive integer, got {args.subset}.")
    optimizers = list(dict.fromkeys(args.optimizers))

    print("[INFO] loading CIFAR-10 data...")
    ((trainX, trainY), (testX, testY)) = prepare_cifar10(args.cifar_dir)

    # Keras and the network only once the data is there (a missing folder fails fast)
    with tensorflow_start_up_filtered():  # the checks passed: Keras loads, without TensorFlow's start-up lines
        import_keras()
    import keras

    from pyimagesearch.nn.conv import MiniVGGNet
    from pyimagesearch.infra.progress import keras_verbose

    if args.subset is not None:
        (trainX, trainY) = (trainX[:args.subset], trainY[:args.subset])
    print(f"[INFO] {len(trainX)} training and {len(testX)} validation images")

    # one set of initial weights, shared by every run
    keras.utils.set_random_seed(args.seed)
    template = MiniVGGNet.build(width=32, height=32, depth=3, classes=len(CIFAR10_LABELS))
    initialWeights = template.get_weights()

    labels = {name: OPTIMIZERS[name][2] for name in optimizers}
    (histories, rows) = ({}, [])
    for name in optimizers:
        (className, kwargs, label) = OPTIMIZERS[name]
        print(f"[INFO] training with {label} ({kwargs})...")
        model = keras.models.clone_model(template)
        model.set_weights(initialWeights)
        digest = weights_digest(model)
        opt = getattr(keras.optimizers, className)(**kwargs)
        model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
        # the same data order and dropout masks for every optimizer
        keras.utils.set_random_seed(args.seed)
        start = time.perf_counter()
        H = model.fit(trainX, trainY, validation_data=(testX, testY),
                      batch_size=args.batch_size, epochs=args.epochs, verbose=keras_verbose())
        seconds = time.perf_counter() - start
        history = {key: [float(v) for v in values] for (key, values) in H.history.items()}
        histories[name] = history
        best = max(range(len(history["val_accuracy"])), key=history["val_accuracy"].__getitem__)
        rows.append({
            "optimizer": name,
            "learning_rate": kwargs["learning_rate"],
            "loss": history["loss"][-1],
            "accuracy": history["accuracy"][-1],
            "val_loss": history["val_loss"][-1],
            "val_accuracy": history["val_accuracy"][-1],
            "best_val_accuracy": history["val_accuracy"][best],
            "best_epoch": best + 1,
            "seconds": round(seconds, 2),
            "initial_weights_sha1": digest,
        })
        keras.backend.clear_session()

    os.makedirs(args.output, exist_ok=True)
    plotPath = os.path.join(args.output, "optimizers.png")
    plot_comparison(histories, labels, plotPath)
    csvPath = os.path.join(args.output, "optimizers.csv")
    with open(csvPath, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    jsonPath = os.path.join(args.output, "optimizers.json")
    settings = {"network": "MiniVGGNet", "dataset": "CIFAR-10", "train_images": len(trainX),
                "validation_images": len(testX), "epochs": args.epochs,
                "batch_size": args.batch_size, "seed": args.seed}
    with open(jsonPath, "w") as f:
        json.dump({"settings": settings, "results": rows, "histories": histories}, f, indent=2)

    print(f"[INFO] final figures after {args.epochs} epoch(s):")
    print(f"{'optimizer':<14}{'lr':>8}{'loss':>9}{'acc':>9}{'val_loss':>10}"
          f"{'val_acc':>9}{'best_val_acc':>14}{'seconds':>9}")
    for row in rows:
        print(f"{row['optimizer']:<14}{row['learning_rate']:>8g}{row['loss']:>9.4f}"
              f"{row['accuracy'] * 100:>8.2f}%{row['val_loss']:>10.4f}"
              f"{row['val_accuracy'] * 100:>8.2f}%{row['best_val_accuracy'] * 100:>7.2f}% "
              f"(ep {row['best_epoch']}){row['seconds']:>8.1f}")
    print(f"[INFO] plot saved to {plotPath}, table saved to {csvPath} and {jsonPath}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
