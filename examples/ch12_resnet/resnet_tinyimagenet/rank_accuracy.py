"""Rank-1 and rank-5 accuracy of ResNet on the Tiny ImageNet test split.

Practitioner Bundle, chapter 12 ("ResNet"), resnet_tinyimagenet/rank_accuracy.py:
the test images (the 50 per class held out of train/ by chapter 11's
build_tiny_imagenet.py) resized to 64x64 and mean-subtracted, predicted by the
model of train_decay.py (or any checkpoint of train.py, with --model), scored
with rank-1 and rank-5; the classification report names each class by its
human-readable WordNet name from words.txt. The book reports 58.03% rank-1
and 80.46% rank-5.

Usage:
    python rank_accuracy.py
    python rank_accuracy.py --model output/resnet_checkpoints/epoch_50.keras
"""

import argparse
import os
import sys

from pyimagesearch.cli import run_main

try:
    from config import tiny_imagenet_config as config
except ValueError as error:
    sys.exit(f"[ERROR] {error}")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", default=config.MODEL_PATH,
                        help=f"checkpoint or model to evaluate (default: {config.MODEL_PATH})")
    parser.add_argument("-b", "--batch-size", type=int, default=64,
                        help="images per batch (default: 64)")
    return parser


def run(args):
    for path in (config.TEST_HDF5, config.DATASET_MEAN):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path!r} not found: run chapter 11's "
                                    "deepergooglenet/build_tiny_imagenet.py first.")
    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"model {args.model!r} not found.")

    from pyimagesearch.datasets import readable_names
    from pyimagesearch.io import HDF5DatasetGenerator
    from pyimagesearch.preprocessing import (ImageToArrayPreprocessor, MeanPreprocessor,
                                             SimplePreprocessor)
    from pyimagesearch.utils import evaluate_predictions, load_checkpoint

    # the RGB means of the training set, and the image preprocessors
    size = config.IMAGE_SIZE
    sp = SimplePreprocessor(size, size)
    mp = MeanPreprocessor.from_json(config.DATASET_MEAN)
    iap = ImageToArrayPreprocessor()

    print("[INFO] loading model...")
    model = load_checkpoint(args.model)

    print("[INFO] predicting on test data...")
    with HDF5DatasetGenerator(config.TEST_HDF5, args.batch_size, preprocessors=[sp, mp, iap],
                              classes=config.NUM_CLASSES) as testGen:
        wnids = [name.decode() if isinstance(name, bytes) else str(name)
                 for name in testGen.db["label_names"][:]]
        labels = testGen.db["labels"][:]
        predictions = model.predict(testGen, verbose=1)
    if not os.path.isfile(config.WORD_LABELS):
        print(f"[INFO] {config.WORD_LABELS} not found: classes are shown by their WordNet ids")
    evaluate_predictions(predictions, labels, readable_names(wnids, config.WORD_LABELS))


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
