"""Train MiniGoogLeNet on CIFAR-10 with a polynomial learning-rate decay.

Practitioner Bundle, chapter 11 ("GoogLeNet"), googlenet_cifar10.py: the
images scaled to [0, 1] and mean-subtracted (the per-pixel mean image of the
training set), augmented (shifts 0.1, horizontal flips), MiniGoogLeNet trained
with SGD (momentum 0.9) from lr 5e-3 decayed linearly to 0 over 70 epochs
(PolynomialDecay, power 1), batch size 64, TrainingMonitor writing the plot and
JSON history every epoch; then the test-set report and rank-1, and the model
saved. The book reports 90.81% accuracy.

CIFAR-10 comes from keras.datasets when online, or from an extracted
cifar-10-batches-py folder given with --cifar-dir. --mixed-precision and
--strategy mirrored train on one or several GPUs (see pyimagesearch/distribute/;
--strategy multiworker trains across processes or machines).

Usage:
    python googlenet_cifar10.py --model output/minigooglenet_cifar10.keras --output output
"""

import argparse

import _examples_path  # noqa: F401  (puts examples/ on sys.path)
from cifar10_common import (add_cifar_arguments, add_output_arguments, add_seed_argument,
                            load_cifar10, train_with_decay)
from settings import add_decay_arguments, check_epochs

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import tensorflow_start_up_filtered
from pyimagesearch.distribute import add_gpu_arguments, configure_from_args


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_output_arguments(parser)
    add_cifar_arguments(parser)
    add_decay_arguments(parser, epochs=70, batch_size=64, learning_rate=5e-3)
    add_seed_argument(parser)
    add_gpu_arguments(parser)
    return parser


def run(args):
    check_epochs(args)
    (data, labelNames) = load_cifar10(args.cifar_dir)
    with tensorflow_start_up_filtered():  # the checks passed: Keras loads here, without TensorFlow's start-up lines
        dist = configure_from_args(args)

    def build(classes):
        from pyimagesearch.nn.conv import MiniGoogLeNet

        return MiniGoogLeNet.build(width=32, height=32, depth=3, classes=classes)

    train_with_decay(args, dist, data, labelNames, "minigooglenet_cifar10", build)


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
