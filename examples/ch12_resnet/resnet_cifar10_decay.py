"""Train ResNet on CIFAR-10 with a linear learning-rate decay.

Practitioner Bundle, chapter 12 ("ResNet"), resnet_cifar10_decay.py: the
images scaled to [0, 1] and mean-subtracted (the training set's mean image),
augmented (shifts 0.1, horizontal flips); ResNet with (9, 9, 9) residual
modules of (64, 64, 128, 256) filters (L2 0.0005) trained with SGD (momentum
0.9) from lr 1e-1 decayed linearly to 0 over 100 epochs (PolynomialDecay,
power 1), batch size 128, TrainingMonitor writing the plot and JSON history
(with each epoch's learning rate) every epoch; then the test-set report and
rank-1, and the model saved. The book reports 93.58% accuracy.

CIFAR-10 comes from keras.datasets when online, or from an extracted
cifar-10-batches-py folder given with --cifar-dir. --mixed-precision and
--strategy mirrored train on one or several GPUs (see pyimagesearch/distribute.py;
--strategy multiworker trains across processes or machines).

Usage:
    python resnet_cifar10_decay.py --model output/resnet_cifar10.keras --output output
"""

import argparse

import _examples_path  # noqa: F401  (puts examples/ on sys.path)
from cifar10_common import (add_cifar_arguments, add_seed_argument, augmenter, evaluate,
                            load_cifar10, output_paths, save_model)

from pyimagesearch.cli import run_main
from pyimagesearch.distribute import add_gpu_arguments, configure_from_args


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", required=True, help="path of the trained model (.keras)")
    parser.add_argument("-o", "--output", required=True,
                        help="folder of the training plot and JSON history")
    add_cifar_arguments(parser)
    parser.add_argument("-e", "--epochs", type=int, default=100,
                        help="training epochs, the decay's length (default: 100)")
    parser.add_argument("-b", "--batch-size", type=int, default=128,
                        help="mini-batch size per replica (default: 128)")
    parser.add_argument("--learning-rate", type=float, default=1e-1,
                        help="initial learning rate, decayed linearly to 0 (default: 1e-1)")
    parser.add_argument("--power", type=float, default=1.0,
                        help="power of the polynomial decay (default: 1, linear)")
    parser.add_argument("--stages", type=int, nargs="+", default=[9, 9, 9],
                        help="residual modules per stage (default: 9 9 9)")
    parser.add_argument("--filters", type=int, nargs="+", default=[64, 64, 128, 256],
                        help="filters of the stem and of each stage (default: 64 64 128 256)")
    add_seed_argument(parser)
    add_gpu_arguments(parser)
    return parser


def run(args):
    if args.epochs < 1:
        raise ValueError("--epochs must be a positive integer.")
    ((trainX, trainY), (testX, testY)), labelNames = load_cifar10(args.cifar_dir)
    dist = configure_from_args(args)

    import keras

    from pyimagesearch.callbacks import TrainingMonitor
    from pyimagesearch.nn.conv import ResNet
    from pyimagesearch.utils import PolynomialDecay
    from pyimagesearch.infra.progress import keras_verbose

    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)

    aug = augmenter(dist, args.seed)

    # the learning-rate schedule and the babysitter (after the schedule, so that the
    # history records each epoch's learning rate)
    (figPath, jsonPath) = output_paths(args.output, "resnet_cifar10_decay", dist)
    schedule = PolynomialDecay(maxEpochs=args.epochs, initAlpha=args.learning_rate,
                               power=args.power)
    callbacks = [keras.callbacks.LearningRateScheduler(schedule)]
    callbacks += dist.chief_only([TrainingMonitor(figPath, jsonPath=jsonPath)])

    print("[INFO] compiling model...")
    with dist.scope():
        opt = keras.optimizers.SGD(learning_rate=args.learning_rate, momentum=0.9)
        model = ResNet.build(32, 32, 3, len(labelNames), args.stages,
                             args.filters, reg=0.0005)
        model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])

    print("[INFO] training network...")
    # with several processes each trains on its share of the rows
    (shareX, shareY) = dist.shard_arrays(trainX, trainY)
    model.fit(aug.flow(shareX, shareY, batch_size=dist.process_batch_size,
                       seed=dist.local_seed(args.seed)),
              steps_per_epoch=max(1, len(shareX) // dist.process_batch_size),  # the book's epochs
              validation_data=dist.shard_arrays(testX, testY), epochs=args.epochs, callbacks=callbacks,
              verbose=keras_verbose())

    evaluate(model, testX, testY, labelNames, dist)

    save_model(model, args.model, dist, figPath, jsonPath)


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
