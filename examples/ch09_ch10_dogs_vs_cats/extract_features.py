"""Extract ResNet50 features of the Dogs vs. Cats images and write them to HDF5.

Practitioner Bundle, chapter 10 ("Competing in Kaggle: Dogs vs. Cats"),
extract_features.py: the image paths are shuffled (seeded) and labelled by
their Kaggle file-name prefix (cat.N.jpg, dog.N.jpg); each image is loaded at
224x224, prepared with ResNet50's preprocess_input, passed through ResNet50
pre-trained on ImageNet without its head, and the 2,048 average-pooled
features (the book's Keras 2 ResNet50 ended in that pool) are written with the
labels and class names to an HDF5 file (dataset "features"). A thin script
over pyimagesearch.io.extract_features; train_model.py classifies the features.

Usage:
    python extract_features.py
    python extract_features.py --dataset ../datasets/kaggle_dogs_vs_cats/train \\
        --output ../datasets/kaggle_dogs_vs_cats/hdf5/features.hdf5
"""

import argparse
import os

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered
from config import dogs_vs_cats_config as config  # puts examples/ on sys.path


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--dataset", default=config.IMAGES_PATH,
                        help=f"folder of cat.N.jpg / dog.N.jpg images (default: {config.IMAGES_PATH})")
    parser.add_argument("-o", "--output", default=config.FEATURES_HDF5,
                        help=f"path of the output HDF5 file (default: {config.FEATURES_HDF5})")
    parser.add_argument("-b", "--batch-size", type=int, default=16,
                        help="batch size of images passed through the network (default: 16)")
    parser.add_argument("-s", "--buffer-size", type=int, default=1000,
                        help="size of the feature extraction buffer (default: 1000)")
    parser.add_argument("-w", "--weights", default="imagenet",
                        help="imagenet, none (random weights, for tests) or the path of a "
                             "weights file (default: imagenet)")
    parser.add_argument("--image-size", type=int, default=224,
                        help="side of the square network input (default: 224)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output file")
    return parser


def run(args):
    # offline, one line in seconds, before TensorFlow loads (after the folder and output checks)
    if args.weights == "imagenet" and os.path.isdir(args.dataset) and (
            args.overwrite or not os.path.exists(args.output)):
        from pyimagesearch.nn.applications import check_imagenet_weights

        check_imagenet_weights("resnet50", include_top=False)
    if os.path.isdir(args.dataset) and (args.overwrite or not os.path.exists(args.output)):
        with tensorflow_start_up_filtered():  # the checks passed: Keras loads, without TensorFlow's start-up lines
            import_keras()
    from pyimagesearch.io import extract_features

    print("[INFO] loading images and network...")
    report = extract_features(
        args.dataset, args.output, label_from="prefix", model="resnet50",
        weights=args.weights, image_size=args.image_size, batch_size=args.batch_size,
        buf_size=args.buffer_size, pooling="avg", overwrite=args.overwrite,
    )
    print(f"[INFO] {report.count} images, {report.dims[0]} features each, "
          f"{len(report.class_names)} classes: {', '.join(report.class_names)}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
