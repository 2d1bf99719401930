"""Train ResNet on Tiny ImageNet, with the "ctrl + c" method of resuming.

Practitioner Bundle, chapter 12 ("ResNet"), resnet_tinyimagenet/train.py:
batches streamed from train.hdf5 by HDF5DatasetGenerator, resized to 64x64,
mean-subtracted and augmented (rotation 18, zoom 0.15, shifts 0.2, shear 0.15,
horizontal flips); ResNet with (3, 4, 6) residual modules of (64, 128, 256,
512) filters and the Tiny ImageNet stem (L2 0.0005) trained with SGD (lr 1e-1,
momentum 0.9), batch size 64. EpochCheckpoint saves the model with its
optimizer state every 5 epochs and TrainingMonitor writes the plot and JSON
history every epoch. When the validation loss stalls, stop the run
(ctrl + c) and restart it from the last checkpoint with a lower learning rate:

    python train.py --model CHECKPOINTS/epoch_25.keras --lr 1e-2

The start epoch is read from the checkpoint's name (or given with
--start-epoch); the history and the checkpoint numbering continue from it.
The last epoch of every run is also saved as a checkpoint. The book reaches
58.03% rank-1 and 80.46% rank-5 with its learning-rate decay (train_decay.py).
The HDF5 files are built by chapter 11's deepergooglenet/build_tiny_imagenet.py;
paths and sizes come from config/tiny_imagenet_config.py. --mixed-precision
and --strategy mirrored train on one or several GPUs (see pyimagesearch/distribute/;
--strategy multiworker trains across processes or machines).

Usage:
    python train.py --epochs 25
    python train.py --model output/resnet_checkpoints/epoch_25.keras --lr 1e-2 --epochs 10
"""

import argparse

from config import tiny_imagenet_config as config  # puts examples/ on sys.path
from settings import add_resnet_arguments
from tinyimagenet_common import (add_resume_arguments, add_worker_arguments,
                                 fit_resumable, new_or_resumed, resume_start, seeded_generators)

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import tensorflow_start_up_filtered
from pyimagesearch.distribute import add_gpu_arguments, configure_from_args


INIT_LR = 1e-1


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_resume_arguments(parser, config.CHECKPOINTS_PATH, INIT_LR)
    add_resnet_arguments(parser, stages=(3, 4, 6), filters=(64, 128, 256, 512))
    parser.add_argument("--every", type=int, default=5,
                        help="save a checkpoint every this many epochs (default: 5)")
    add_worker_arguments(parser)
    add_gpu_arguments(parser)
    return parser


def run(args):
    startAt = resume_start(args, config,
                           builder="chapter 11's deepergooglenet/build_tiny_imagenet.py")
    with tensorflow_start_up_filtered():  # the checks passed: Keras loads here, without TensorFlow's start-up lines
        dist = configure_from_args(args)

    import keras

    from pyimagesearch.nn.conv import ResNet

    # the augmented training batches and the validation batches: resized to
    # IMAGE_SIZE, mean-subtracted (the training set's RGB means)
    size = config.IMAGE_SIZE
    (trainGen, valGen) = seeded_generators(args, config, dist)

    def build():
        return ResNet.build(size, size, 3, config.NUM_CLASSES, args.stages, args.filters,
                           reg=0.0005, dataset="tiny_imagenet")

    model = new_or_resumed(args, startAt, dist, INIT_LR, build,
                           lambda rate: keras.optimizers.SGD(learning_rate=rate, momentum=0.9))

    # checkpoints every --every epochs (and the last) and the babysitter, both
    # resuming at startAt
    fit_resumable(model, trainGen, valGen, args, startAt, config, dist=dist)


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
