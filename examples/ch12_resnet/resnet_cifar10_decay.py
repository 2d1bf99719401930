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
--strategy mirrored train on one or several GPUs (see pyimagesearch/distribute/;
--strategy multiworker trains across processes or machines).

Usage:
    python resnet_cifar10_decay.py --model output/resnet_cifar10.keras --output output
"""

import argparse

import _examples_path  # noqa: F401  (puts examples/ on sys.path)
from cifar10_common import (add_cifar_arguments, add_output_arguments, add_seed_argument,
                            load_cifar10, train_with_decay)
from settings import add_decay_arguments, add_resnet_arguments, check_epochs

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import tensorflow_start_up_filtered
from pyimagesearch.distribute import add_gpu_arguments, configure_from_args


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_output_arguments(parser)
    add_cifar_arguments(parser)
    add_decay_arguments(parser, epochs=100, batch_size=128, learning_rate=1e-1)
    add_resnet_arguments(parser, stages=(9, 9, 9), filters=(64, 64, 128, 256))
    add_seed_argument(parser)
    add_gpu_arguments(parser)
    return parser


def run(args):
    check_epochs(args)
    (data, labelNames) = load_cifar10(args.cifar_dir)
    with tensorflow_start_up_filtered():  # the checks passed: Keras loads here, without TensorFlow's start-up lines
        dist = configure_from_args(args)

    def build(classes):
        from pyimagesearch.nn.conv import ResNet

        return ResNet.build(32, 32, 3, classes, args.stages, args.filters, reg=0.0005)

    train_with_decay(args, dist, data, labelNames, "resnet_cifar10_decay", build)


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
