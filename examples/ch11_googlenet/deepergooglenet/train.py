"""Train DeeperGoogLeNet on Tiny ImageNet, with the "ctrl + c" method of resuming.

Practitioner Bundle, chapter 11 ("GoogLeNet"), train.py: batches streamed from
train.hdf5 by HDF5DatasetGenerator, resized to 64x64, mean-subtracted and
augmented (rotation 18, zoom 0.15, shifts 0.2, shear 0.15, horizontal flips);
DeeperGoogLeNet (L2 0.0002) trained with Adam (lr 1e-3), batch size 64.
EpochCheckpoint saves the model with its optimizer state every 5 epochs and
TrainingMonitor writes the plot and JSON history every epoch. When the
validation loss stalls, stop the run (ctrl + c) and restart it from the last
checkpoint with a lower learning rate:

    python train.py --model CHECKPOINTS/epoch_25.keras --lr 1e-4

The start epoch is read from the checkpoint's name (or given with
--start-epoch); the history and the checkpoint numbering continue from it.
The last epoch of every run is also saved as a checkpoint. The book reports
54.38% rank-1 and 78.96% rank-5 on the test split after 70 epochs
(rank_accuracy.py). Paths and sizes come from config/tiny_imagenet_config.py;
--mixed-precision and --strategy mirrored train on one or several GPUs
(see examples/distribute.py).

Usage:
    python train.py --epochs 25
    python train.py --model output/deepergooglenet_checkpoints/epoch_25.keras --lr 1e-4 --epochs 10
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from distribute import add_gpu_arguments, configure  # noqa: E402

from pyimagesearch.cli import run_main  # noqa: E402

try:
    from config import tiny_imagenet_config as config
except ValueError as error:
    sys.exit(f"[ERROR] {error}")

INIT_LR = 1e-3


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--checkpoints", default=config.CHECKPOINTS_PATH,
                        help=f"folder of the checkpoints (default: {config.CHECKPOINTS_PATH})")
    parser.add_argument("-m", "--model", default=None,
                        help="checkpoint to resume training from (default: a new network)")
    parser.add_argument("-s", "--start-epoch", type=int, default=None,
                        help="epoch the checkpoint was saved at (default: read from its "
                             "name, epoch_N.keras; 0 for a new network)")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"learning rate: of a new network (default: {INIT_LR}) or the new "
                             "rate of a resumed one (default: the checkpoint's)")
    parser.add_argument("-e", "--epochs", type=int, default=10,
                        help="epochs to train in this run (default: 10)")
    parser.add_argument("-b", "--batch-size", type=int, default=64,
                        help="mini-batch size per replica (default: 64)")
    parser.add_argument("--every", type=int, default=5,
                        help="save a checkpoint every this many epochs (default: 5)")
    parser.add_argument("--workers", type=int, default=1,
                        help="threads preparing batches (default: 1)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the weights, batch order and augmentation")
    add_gpu_arguments(parser)
    return parser


def run(args):
    if args.epochs < 1 or args.every < 1:
        raise ValueError("--epochs and --every must be positive integers.")
    if args.lr is not None and not args.lr > 0:
        raise ValueError(f"--lr must be a positive number, got {args.lr}.")
    from pyimagesearch.utils import resume_epoch

    startAt = resume_epoch(args.model, args.start_epoch)
    for path in (config.TRAIN_HDF5, config.VAL_HDF5, config.DATASET_MEAN):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path!r} not found: run build_tiny_imagenet.py first.")
    if args.model is not None and not os.path.isfile(args.model):
        raise FileNotFoundError(f"checkpoint {args.model!r} not found.")
    dist = configure(args)

    import keras

    from pyimagesearch.augmentation import ImageAugmenter
    from pyimagesearch.callbacks import EpochCheckpoint, TrainingMonitor
    from pyimagesearch.io import HDF5DatasetGenerator
    from pyimagesearch.nn.conv import DeeperGoogLeNet
    from pyimagesearch.preprocessing import (ImageToArrayPreprocessor, MeanPreprocessor,
                                             SimplePreprocessor)
    from pyimagesearch.utils import load_checkpoint

    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)

    # the training image generator for data augmentation
    aug = ImageAugmenter(rotation_range=18, zoom_range=0.15, width_shift_range=0.2,
                         height_shift_range=0.2, shear_range=0.15, horizontal_flip=True,
                         fill_mode="nearest", seed=args.seed)

    # the RGB means of the training set, and the image preprocessors
    size = config.IMAGE_SIZE
    sp = SimplePreprocessor(size, size)
    mp = MeanPreprocessor.from_json(config.DATASET_MEAN)
    iap = ImageToArrayPreprocessor()

    # the training and validation dataset generators
    trainGen = HDF5DatasetGenerator(config.TRAIN_HDF5, dist.batch_size, aug=aug,
                                    preprocessors=[sp, mp, iap], classes=config.NUM_CLASSES,
                                    shuffle=True, seed=args.seed, workers=args.workers,
                                    max_queue_size=2 * args.workers + 8)
    valGen = HDF5DatasetGenerator(config.VAL_HDF5, dist.batch_size, preprocessors=[sp, mp, iap],
                                  classes=config.NUM_CLASSES, workers=args.workers)

    with dist.scope():
        if args.model is None:
            # a new network
            print("[INFO] compiling model...")
            model = DeeperGoogLeNet.build(width=size, height=size, depth=3,
                                          classes=config.NUM_CLASSES,
                                          reg=0.0002)
            opt = keras.optimizers.Adam(learning_rate=args.lr or INIT_LR)
            model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
            print(f"[INFO] learning rate: {args.lr or INIT_LR:.6g}")
        else:
            # the checkpoint, with its optimizer state, and optionally a new learning rate
            print(f"[INFO] loading {args.model} (epoch {startAt})...")
            model = load_checkpoint(args.model, learning_rate=args.lr)
            rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
            print(f"[INFO] learning rate: {rate:.6g}")

    # checkpoints every --every epochs and the babysitter, both resuming at startAt
    callbacks = [
        EpochCheckpoint(args.checkpoints, every=args.every, startAt=startAt, saveLast=True),
        TrainingMonitor(config.FIG_PATH, jsonPath=config.JSON_PATH, startAt=startAt),
    ]

    print(f"[INFO] training epochs {startAt + 1} to {startAt + args.epochs}...")
    model.fit(trainGen, validation_data=valGen, initial_epoch=startAt,
              epochs=startAt + args.epochs, callbacks=callbacks, verbose=2)

    last = os.path.join(args.checkpoints, f"epoch_{startAt + args.epochs}.keras")
    trainGen.close()
    valGen.close()
    print(f"[INFO] last checkpoint {last}, plot {config.FIG_PATH}, history {config.JSON_PATH}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
