"""Train an ensemble of MiniVGGNet networks on CIFAR-10.

Practitioner Bundle, chapter 6 ("Improving Accuracy with Network Ensembles"),
train_models.py: --num-models MiniVGGNets, each trained with SGD (lr 0.01,
momentum 0.9, Nesterov, the book's Keras 2 `decay=0.01 / 40` expressed as a
Keras 3 InverseTimeDecay schedule) on augmented CIFAR-10 batches for 40
epochs. Each member gets a classification report (text file) and a
loss/accuracy plot in --output, and is saved as --models/model_{i}.keras.
The book reports about 83% accuracy per member; test_ensemble.py averages them.

CIFAR-10 comes from keras.datasets when online, or from an extracted
cifar-10-batches-py folder given with --cifar-dir.

Usage:
    python train_models.py --output output --models models --num-models 5
"""

import argparse

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", required=True,
                        help="folder of the reports and plots")
    parser.add_argument("-m", "--models", required=True,
                        help="folder of the trained models")
    parser.add_argument("-n", "--num-models", type=int, default=5,
                        help="number of models to train (default: 5)")
    parser.add_argument("--cifar-dir", default=None,
                        help="extracted cifar-10-batches-py folder (default: download "
                             "through keras.datasets)")
    parser.add_argument("-e", "--epochs", type=int, default=40,
                        help="training epochs per model (default: 40)")
    parser.add_argument("-b", "--batch-size", type=int, default=64,
                        help="mini-batch size (default: 64)")
    parser.add_argument("--learning-rate", type=float, default=0.01,
                        help="initial SGD learning rate (default: 0.01)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of member i is SEED + i, for reproducible runs")
    return parser


def run(args):
    import os

    from pyimagesearch.datasets import CIFAR10_LABELS, prepare_cifar10

    if args.num_models < 1 or args.epochs < 1:
        raise ValueError("--num-models and --epochs must be positive integers.")

    print("[INFO] loading CIFAR-10 data...")
    ((trainX, trainY), (testX, testY)) = prepare_cifar10(args.cifar_dir)

    # Keras and the networks only once the data is there (a missing folder fails fast)
    with tensorflow_start_up_filtered():  # the checks passed: Keras loads, without TensorFlow's start-up lines
        import_keras()
    import keras

    from pyimagesearch.augmentation import ImageAugmenter
    from pyimagesearch.nn.conv import MiniVGGNet
    from pyimagesearch.utils import evaluate_predictions, plot_history
    from pyimagesearch.infra.progress import keras_verbose

    labelNames = list(CIFAR10_LABELS)

    os.makedirs(args.output, exist_ok=True)
    os.makedirs(args.models, exist_ok=True)
    for i in range(args.num_models):
        seed = None if args.seed is None else args.seed + i
        if seed is not None:
            keras.utils.set_random_seed(seed)
        # the image generator for data augmentation (the book's parameters)
        aug = ImageAugmenter(rotation_range=10, width_shift_range=0.1,
                             height_shift_range=0.1, horizontal_flip=True,
                             fill_mode="nearest", seed=seed)

        # Keras 2's SGD(lr=0.01, decay=0.01 / 40) lowered the rate after every
        # batch as lr / (1 + decay * iterations): exactly InverseTimeDecay
        print(f"[INFO] training model {i + 1}/{args.num_models}")
        schedule = keras.optimizers.schedules.InverseTimeDecay(
            initial_learning_rate=args.learning_rate, decay_steps=1,
            decay_rate=args.learning_rate / args.epochs)
        opt = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9, nesterov=True)
        model = MiniVGGNet.build(width=32, height=32, depth=3, classes=len(labelNames))
        model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])

        H = model.fit(aug.flow(trainX, trainY, batch_size=args.batch_size),
                      validation_data=(testX, testY),
                      steps_per_epoch=max(1, len(trainX) // args.batch_size),
                      epochs=args.epochs, verbose=keras_verbose())

        modelPath = os.path.join(args.models, f"model_{i}.keras")
        model.save(modelPath)

        predictions = model.predict(testX, batch_size=args.batch_size, verbose=keras_verbose())
        (report, rank1, rank5) = evaluate_predictions(predictions, testY, labelNames)
        report += f"\nrank-1: {rank1 * 100:.2f}%\nrank-5: {rank5 * 100:.2f}%\n"
        reportPath = os.path.join(args.output, f"model_{i}.txt")
        with open(reportPath, "w") as f:
            f.write(report)

        plotPath = os.path.join(args.output, f"model_{i}.png")
        plot_history(H, plotPath, title=f"Training Loss and Accuracy for model {i}")
        print(f"[INFO] model {i}: {modelPath}, report {reportPath}, plot {plotPath}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
