"""Print the index and class of every layer of VGG16, for network surgery.

Practitioner Bundle, chapter 5 ("Fine-tuning Networks"), inspect_model.py:
with --include-top 1 the network keeps its fully-connected head (23 layers);
with --include-top 0 the head is cut off after block5_pool (19 layers). The
indexes tell finetune_flowers17.py which layers to freeze and unfreeze
(layers 15 and on are block 5).

Usage:
    python inspect_model.py --include-top 0
"""

import argparse

from pyimagesearch.cli import run_main


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-i", "--include-top", type=int, default=1,
                        help="whether or not to include the top of the network "
                             "(1: keep the head, 0: cut it; default: 1)")
    parser.add_argument("-w", "--weights", default="imagenet",
                        help="imagenet, none (random weights) or the path of a "
                             "weights file (default: imagenet)")
    parser.add_argument("--network", default="vgg16",
                        help="keras.applications network (default: vgg16, the book's)")
    return parser


def run(args):
    from pyimagesearch.nn.applications import build_application

    print("[INFO] loading network...")
    model = build_application(args.network, include_top=args.include_top > 0,
                              weights=args.weights)
    print("[INFO] showing layers...")
    for (i, layer) in enumerate(model.layers):
        print(f"[INFO] {i}\t{layer.__class__.__name__}\t{layer.name}")


def main(argv=None):
    run_main(build_parser(), run, argv, keras=True)  # no path to check first: Keras loads quietly at once


if __name__ == "__main__":
    main()
