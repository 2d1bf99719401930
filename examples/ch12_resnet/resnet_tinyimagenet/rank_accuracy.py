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

from config import tiny_imagenet_config as config  # puts examples/ on sys.path
from tinyimagenet_common import evaluate_test_split

from pyimagesearch.cli import run_main


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", default=config.MODEL_PATH,
                        help=f"checkpoint or model to evaluate (default: {config.MODEL_PATH})")
    parser.add_argument("-b", "--batch-size", type=int, default=64,
                        help="images per batch (default: 64)")
    return parser


def run(args):
    # the test split resized and mean-subtracted as in training, predicted by the model,
    # scored with rank-1 and rank-5, and the report by WordNet names
    evaluate_test_split(config, args.model, args.batch_size,
                        builder="chapter 11's deepergooglenet/build_tiny_imagenet.py")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
