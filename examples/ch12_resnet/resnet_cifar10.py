"""Train ResNet on CIFAR-10, with the "ctrl + c" method of resuming.

Practitioner Bundle, chapter 12 ("ResNet"), resnet_cifar10.py: the images
scaled to [0, 1] and mean-subtracted (the training set's mean image),
augmented (shifts 0.1, horizontal flips); ResNet with (9, 9, 9) residual
modules of (64, 64, 128, 256) filters (L2 0.0005) trained with SGD (lr 1e-1),
batch size 128. EpochCheckpoint saves the model with its optimizer state every
5 epochs and TrainingMonitor writes the plot and JSON history every epoch.
When the validation loss stalls, stop the run (ctrl + c) and restart it from
the last checkpoint with a lower learning rate:

    python resnet_cifar10.py --checkpoints output/checkpoints \\
        --model output/checkpoints/epoch_50.keras --lr 1e-2

The start epoch is read from the checkpoint's name (or given with
--start-epoch); the history and the checkpoint numbering continue from it.
The last epoch of every run is also saved as a checkpoint, and the test set is
scored at the end of every run. The book reaches 93.58% accuracy with its
learning-rate decay (resnet_cifar10_decay.py).

CIFAR-10 comes from keras.datasets when online, or from an extracted
cifar-10-batches-py folder given with --cifar-dir. --mixed-precision and
--strategy mirrored train on one or several GPUs (see pyimagesearch/distribute/;
--strategy multiworker trains across processes or machines).

Usage:
    python resnet_cifar10.py --checkpoints output/checkpoints --epochs 50
"""

import argparse
import os

import _examples_path  # noqa: F401  (puts examples/ on sys.path)
from cifar10_common import (add_cifar_arguments, add_seed_argument, augmenter, evaluate,
                            load_cifar10, output_paths)
from settings import add_resnet_arguments, add_resume_arguments, new_or_resumed, resume_checkpoint

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import tensorflow_start_up_filtered
from pyimagesearch.distribute import add_gpu_arguments, configure_from_args

INIT_LR = 1e-1


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_resume_arguments(parser, None, INIT_LR, batch_size=128)
    parser.add_argument("-o", "--output", default="output",
                        help="folder of the training plot and JSON history (default: output)")
    add_cifar_arguments(parser)
    parser.add_argument("--every", type=int, default=5,
                        help="save a checkpoint every this many epochs (default: 5)")
    add_resnet_arguments(parser, stages=(9, 9, 9), filters=(64, 64, 128, 256))
    add_seed_argument(parser)
    add_gpu_arguments(parser)
    return parser


def run(args):
    startAt = resume_checkpoint(args)
    ((trainX, trainY), (testX, testY)), labelNames = load_cifar10(args.cifar_dir)
    with tensorflow_start_up_filtered():  # the checks passed: Keras loads here, without TensorFlow's start-up lines
        dist = configure_from_args(args)

    import keras

    from pyimagesearch.callbacks import EpochCheckpoint, TrainingMonitor
    from pyimagesearch.nn.conv import ResNet
    from pyimagesearch.infra.progress import keras_verbose

    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)

    aug = augmenter(dist, args.seed)

    def build():
        return ResNet.build(32, 32, 3, len(labelNames), args.stages, args.filters, reg=0.0005)

    model = new_or_resumed(args, startAt, dist, INIT_LR, build,
                           lambda rate: keras.optimizers.SGD(learning_rate=rate))

    # checkpoints every --every epochs and the babysitter, both resuming at startAt
    (figPath, jsonPath) = output_paths(args.output, "resnet56_cifar10", dist)
    callbacks = dist.chief_only([
        EpochCheckpoint(args.checkpoints, every=args.every, startAt=startAt, saveLast=True),
        TrainingMonitor(figPath, jsonPath=jsonPath, startAt=startAt),
    ])

    print(f"[INFO] training epochs {startAt + 1} to {startAt + args.epochs}...")
    # with several processes each trains on its share of the rows
    (shareX, shareY) = dist.shard_arrays(trainX, trainY)
    steps = max(1, len(shareX) // dist.process_batch_size)  # the book's epochs
    flow = aug.flow(shareX, shareY, batch_size=dist.process_batch_size,
                    seed=dist.local_seed(args.seed))
    flow.set_epoch(startAt, steps)  # a resumed run continues the run's stream of batches
    with dist.guard(args.checkpoints, end_epoch=startAt + args.epochs):  # --epochs: of this run
        model.fit(flow, steps_per_epoch=steps,
                  validation_data=dist.shard_arrays(testX, testY), initial_epoch=startAt,
                  epochs=startAt + args.epochs, callbacks=callbacks, verbose=keras_verbose())

    last = os.path.join(args.checkpoints, f"epoch_{startAt + args.epochs}.keras")

    if dist.num_processes > 1:
        if dist.is_chief:
            print(f"[INFO] trained in {dist.num_processes} processes: evaluate {last} on one "
                  f"machine (--strategy none); plot {figPath}, history {jsonPath}")
        return
    evaluate(model, testX, testY, labelNames, dist)
    print(f"[INFO] last checkpoint {last}, plot {figPath}, history {jsonPath}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
