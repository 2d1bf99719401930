"""Train AlexNet on the Dogs vs. Cats HDF5 datasets.

Practitioner Bundle, chapter 10 ("Competing in Kaggle: Dogs vs. Cats"),
train_alexnet.py: batches streamed from train.hdf5 by HDF5DatasetGenerator,
each image cut to a random 227x227 patch, mean-subtracted and augmented
(rotation 20, zoom 0.15, shifts 0.2, shear 0.15, horizontal flips);
validation images resized to 227x227 and mean-subtracted; AlexNet (L2 0.0002)
trained with Adam (lr 1e-3) for 75 epochs on the book's binary cross-entropy,
with TrainingMonitor writing the plot and JSON history every epoch; the model
is saved to MODEL_PATH. The book reports 92.60% rank-1 on the test split
(crop_accuracy.py), 94.00% with 10-crop over-sampling.

Paths and sizes come from config/dogs_vs_cats_config.py. --mixed-precision
and --strategy mirrored train on one or several GPUs (see pyimagesearch/distribute/;
--strategy multiworker trains across processes or machines).

Usage:
    python train_alexnet.py
    python train_alexnet.py --strategy mirrored --mixed-precision
"""

import argparse
import os

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import tensorflow_start_up_filtered
from pyimagesearch.distribute import add_gpu_arguments, configure_from_args
from config import dogs_vs_cats_config as config  # puts examples/ on sys.path


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", default=config.MODEL_PATH,
                        help=f"path of the trained model to save (default: {config.MODEL_PATH})")
    parser.add_argument("-e", "--epochs", type=int, default=75,
                        help="training epochs (default: 75)")
    parser.add_argument("-b", "--batch-size", type=int, default=128,
                        help="mini-batch size per replica (default: 128)")
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="Adam learning rate (default: 1e-3)")
    parser.add_argument("--workers", type=int, default=1,
                        help="threads preparing batches (default: 1)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the weights, batch order, patches and augmentation")
    add_gpu_arguments(parser)
    return parser


def run(args):
    if args.epochs < 1:
        raise ValueError("--epochs must be a positive integer.")
    for path in (config.TRAIN_HDF5, config.VAL_HDF5, config.DATASET_MEAN):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path!r} not found: run build_dogs_vs_cats.py first.")
    with tensorflow_start_up_filtered():  # the checks passed: Keras loads here, without TensorFlow's start-up lines
        dist = configure_from_args(args)

    import keras

    from pyimagesearch.augmentation import ImageAugmenter
    from pyimagesearch.callbacks import TrainingMonitor
    from pyimagesearch.io import HDF5DatasetGenerator
    from pyimagesearch.nn.conv import AlexNet
    from pyimagesearch.preprocessing import (ImageToArrayPreprocessor, MeanPreprocessor,
                                             PatchPreprocessor, SimplePreprocessor)
    from pyimagesearch.infra.progress import keras_verbose

    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)

    # the training image generator for data augmentation
    aug = ImageAugmenter(rotation_range=20, zoom_range=0.15, width_shift_range=0.2,
                         height_shift_range=0.2, shear_range=0.15, horizontal_flip=True,
                         fill_mode="nearest", seed=dist.local_seed(args.seed))

    # the RGB means of the training set, and the image preprocessors
    size = config.CROP_SIZE
    sp = SimplePreprocessor(size, size)
    pp = PatchPreprocessor(size, size, seed=dist.local_seed(args.seed))
    mp = MeanPreprocessor.from_json(config.DATASET_MEAN)
    iap = ImageToArrayPreprocessor()

    # the training and validation dataset generators (this process's share of
    # every batch when several processes train)
    trainGen = dist.shard(HDF5DatasetGenerator(
        config.TRAIN_HDF5, dist.batch_size, aug=aug, preprocessors=[pp, mp, iap],
        classes=config.NUM_CLASSES, shuffle=True, seed=args.seed, workers=args.workers,
        max_queue_size=2 * args.workers + 8))
    valGen = dist.shard(HDF5DatasetGenerator(config.VAL_HDF5, dist.batch_size,
                                             preprocessors=[sp, mp, iap],
                                             classes=config.NUM_CLASSES, workers=args.workers))

    print("[INFO] compiling model...")
    with dist.scope():
        opt = keras.optimizers.Adam(learning_rate=args.learning_rate)
        model = AlexNet.build(width=size, height=size, depth=3,
                              classes=config.NUM_CLASSES, reg=0.0002)
        model.compile(loss="binary_crossentropy", optimizer=opt, metrics=["accuracy"])

    # the babysitter: plot and JSON history after every epoch
    callbacks = dist.chief_only([TrainingMonitor(config.FIG_PATH, jsonPath=config.JSON_PATH)])

    print("[INFO] training network...")
    model.fit(trainGen, validation_data=valGen, epochs=args.epochs, callbacks=callbacks,
              verbose=keras_verbose())

    print("[INFO] serializing model...")
    dist.save(model, args.model)
    trainGen.close()
    valGen.close()
    if dist.is_chief:
        print(f"[INFO] model saved to {args.model}, plot {config.FIG_PATH}, "
              f"history {config.JSON_PATH}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
