"""Extract VGG16 features of an image dataset and write them to HDF5.

Practitioner Bundle, chapter 3 ("Networks as Feature Extractors"),
extract_features.py: the images are shuffled (seeded), labelled by their
parent folder, passed through VGG16 pre-trained on ImageNet without its
fully-connected head, and the flattened 7x7x512 = 25,088 features are written
with their labels and class names to an HDF5 file (dataset "features").
A thin script over pyimagesearch.io.extract_features.

Usage:
    python extract_features.py --dataset ../datasets/animals/images \\
        --output ../datasets/animals/hdf5/features.hdf5
"""

import argparse
import os

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--dataset", required=True,
                        help="path to the input dataset ({class}/{image} folders)")
    parser.add_argument("-o", "--output", required=True, help="path of the output HDF5 file")
    parser.add_argument("-b", "--batch-size", type=int, default=32,
                        help="batch size of images passed through the network (default: 32)")
    parser.add_argument("-s", "--buffer-size", type=int, default=1000,
                        help="size of the feature extraction buffer (default: 1000)")
    parser.add_argument("-w", "--weights", default="imagenet",
                        help="imagenet, none (random weights, for tests) or the path "
                             "of a weights file (default: imagenet)")
    parser.add_argument("--network", default="vgg16",
                        help="keras.applications network (default: vgg16, the book's)")
    parser.add_argument("--image-size", type=int, default=224,
                        help="side of the square network input (default: 224)")
    parser.add_argument("--labels", choices=("parent", "prefix"), default="parent",
                        help="label source: parent folder (default) or file-name "
                             "prefix (Kaggle's cat.1.jpg)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output file")
    return parser


def run(args):
    # offline, one line in seconds, before TensorFlow loads (after the folder and output checks)
    if args.weights == "imagenet" and os.path.isdir(args.dataset) and (
            args.overwrite or not os.path.exists(args.output)):
        from pyimagesearch.nn.applications import check_imagenet_weights

        check_imagenet_weights(args.network, include_top=False)
    if os.path.isdir(args.dataset) and (args.overwrite or not os.path.exists(args.output)):
        with tensorflow_start_up_filtered():  # the checks passed: Keras loads, without TensorFlow's start-up lines
            import_keras()
    from pyimagesearch.io import extract_features

    print("[INFO] loading images and network...")
    report = extract_features(
        args.dataset, args.output, label_from=args.labels, model=args.network,
        weights=args.weights, image_size=args.image_size, batch_size=args.batch_size,
        buf_size=args.buffer_size, overwrite=args.overwrite,
    )
    print(f"[INFO] {report.count} images, {len(report.class_names)} classes: "
          f"{', '.join(report.class_names)}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
