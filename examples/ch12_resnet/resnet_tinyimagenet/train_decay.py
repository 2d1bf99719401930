"""Train ResNet on Tiny ImageNet with a linear learning-rate decay.

Practitioner Bundle, chapter 12 ("ResNet"), resnet_tinyimagenet/train_decay.py:
batches streamed from train.hdf5 by HDF5DatasetGenerator, resized to 64x64,
mean-subtracted and augmented (rotation 18, zoom 0.15, shifts 0.2, shear 0.15,
horizontal flips); ResNet with (3, 4, 6) residual modules of (64, 128, 256,
512) filters and the Tiny ImageNet stem (L2 0.0005) trained with SGD (momentum
0.9) from lr 1e-1 decayed linearly to 0 over 75 epochs (PolynomialDecay,
power 1), batch size 64, TrainingMonitor writing the plot and JSON history
(with each epoch's learning rate) every epoch; the model is saved to
MODEL_PATH for rank_accuracy.py. The book reports 58.03% rank-1 and 80.46%
rank-5 on the test split.

The HDF5 files are built by chapter 11's deepergooglenet/build_tiny_imagenet.py;
paths and sizes come from config/tiny_imagenet_config.py. --mixed-precision
and --strategy mirrored train on one or several GPUs (see pyimagesearch/distribute/;
--strategy multiworker trains across processes or machines).

Usage:
    python train_decay.py
    python train_decay.py --strategy mirrored --mixed-precision
"""

import argparse

from config import tiny_imagenet_config as config  # puts examples/ on sys.path
from settings import add_decay_arguments, add_resnet_arguments, check_epochs, compile_sgd, decay_callbacks
from tinyimagenet_common import add_worker_arguments, require_files, seeded_generators

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import tensorflow_start_up_filtered
from pyimagesearch.distribute import add_gpu_arguments, configure_from_args


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", default=config.MODEL_PATH,
                        help=f"path of the trained model to save (default: {config.MODEL_PATH})")
    add_decay_arguments(parser, epochs=75, batch_size=64, learning_rate=1e-1)
    add_resnet_arguments(parser, stages=(3, 4, 6), filters=(64, 128, 256, 512))
    add_worker_arguments(parser)
    add_gpu_arguments(parser)
    return parser


def run(args):
    check_epochs(args)
    require_files((config.TRAIN_HDF5, config.VAL_HDF5, config.DATASET_MEAN),
                  builder="chapter 11's deepergooglenet/build_tiny_imagenet.py")
    with tensorflow_start_up_filtered():  # the checks passed: Keras loads here, without TensorFlow's start-up lines
        dist = configure_from_args(args)

    from pyimagesearch.nn.conv import ResNet
    from pyimagesearch.infra.progress import keras_verbose

    # the augmented training batches and the validation batches: resized to
    # IMAGE_SIZE, mean-subtracted (the training set's RGB means)
    size = config.IMAGE_SIZE
    (trainGen, valGen) = seeded_generators(args, config, dist)

    # the learning-rate schedule and the babysitter
    callbacks = decay_callbacks(args, dist, config.DECAY_FIG_PATH, config.DECAY_JSON_PATH)

    print("[INFO] compiling model...")
    with dist.scope():
        model = compile_sgd(ResNet.build(size, size, 3, config.NUM_CLASSES, args.stages,
                                         args.filters, reg=0.0005, dataset="tiny_imagenet"),
                            args.learning_rate)

    print("[INFO] training network...")
    model.fit(trainGen, validation_data=valGen, epochs=args.epochs, callbacks=callbacks,
              verbose=keras_verbose())

    print("[INFO] serializing network...")
    dist.save(model, args.model)
    trainGen.close()
    valGen.close()
    if dist.is_chief:
        print(f"[INFO] model saved to {args.model}, plot {config.DECAY_FIG_PATH}, "
              f"history {config.DECAY_JSON_PATH}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
