"""Evaluate the Dogs vs. Cats AlexNet on the test split, plain and 10-crop over-sampled.

Practitioner Bundle, chapter 10 ("Competing in Kaggle: Dogs vs. Cats"),
crop_accuracy.py: the test images resized to 227x227 and mean-subtracted give
the plain rank-1; then each test image's ten 227x227 crops (four corners,
centre, and their mirrors) are predicted and their probabilities averaged
(pyimagesearch.utils.predict_oversampled, batched). The book reports 92.60%
without and 94.00% with over-sampling.

Usage:
    python crop_accuracy.py
    python crop_accuracy.py --model output/alexnet_dogs_vs_cats.keras
"""

import argparse
import os

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered
from config import dogs_vs_cats_config as config  # puts examples/ on sys.path


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", default=config.MODEL_PATH,
                        help=f"path of the trained model (default: {config.MODEL_PATH})")
    parser.add_argument("-b", "--batch-size", type=int, default=64,
                        help="images (plain) or crops (over-sampled) per batch (default: 64)")
    return parser


def run(args):
    for path in (config.TEST_HDF5, config.DATASET_MEAN):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path!r} not found: run build_dogs_vs_cats.py first.")
    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"model {args.model!r} not found.")

    with tensorflow_start_up_filtered():  # the checks passed: Keras loads, without TensorFlow's start-up lines
        import_keras()
    from pyimagesearch.io import HDF5DatasetGenerator
    from pyimagesearch.preprocessing import (CropPreprocessor, ImageToArrayPreprocessor,
                                             MeanPreprocessor, SimplePreprocessor)
    from pyimagesearch.utils import (as_class_names, evaluate_predictions, load_checkpoint,
                                     predict_oversampled)
    from pyimagesearch.infra.progress import keras_verbose

    # the RGB means of the training set, and the image preprocessors
    size = config.CROP_SIZE
    mp = MeanPreprocessor.from_json(config.DATASET_MEAN)
    sp = SimplePreprocessor(size, size)
    cp = CropPreprocessor(size, size)
    iap = ImageToArrayPreprocessor()

    print("[INFO] loading model...")
    model = load_checkpoint(args.model)

    print("[INFO] predicting on test data (no crops)...")
    with HDF5DatasetGenerator(config.TEST_HDF5, args.batch_size, preprocessors=[sp, mp, iap],
                              classes=config.NUM_CLASSES) as testGen:
        classNames = as_class_names(testGen.db["label_names"][:])
        labels = testGen.db["labels"][:]
        predictions = model.predict(testGen, verbose=keras_verbose())
        evaluate_predictions(predictions, labels, classNames)

        # the same images, each as the mean prediction over its 10 crops
        print("[INFO] predicting on test data (with crops)...")
        predictions = predict_oversampled(model, testGen.db["images"], cp,
                                          preprocessors=[mp, iap],
                                          batch_size=args.batch_size, verbose=keras_verbose())
        evaluate_predictions(predictions, labels, classNames)


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
