"""Rank-1 and rank-5 accuracy of DeeperGoogLeNet on the Tiny ImageNet test split.

Practitioner Bundle, chapter 11 ("GoogLeNet"), rank_accuracy.py: the test
images (the 50 per class held out of train/ by build_tiny_imagenet.py) resized
to 64x64 and mean-subtracted, predicted by a checkpoint, scored with rank-1 and
rank-5; the classification report names each class by its human-readable
WordNet name from words.txt. The book reports 54.38% rank-1 and 78.96% rank-5
after 70 epochs.

Usage:
    python rank_accuracy.py
    python rank_accuracy.py --model output/deepergooglenet_checkpoints/epoch_70.keras
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
    evaluate_test_split(config, args.model, args.batch_size)


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
