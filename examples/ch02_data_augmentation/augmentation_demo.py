"""Write randomly augmented copies of one image, and a montage of them.

Practitioner Bundle, chapter 2 ("Data Augmentation"), augmentation_demo.py:
the book's listing, `load_img` (RGB) and `img_to_array`, then the book's
ImageDataGenerator parameters, here with pyimagesearch's ImageAugmenter
(Keras 3 no longer ships ImageDataGenerator), whose `save_to_dir` writes the
RGB arrays in their colours, as Keras did, under Keras' names
(PREFIX_INDEX_RANDOM.jpg: a second run adds files beside the first's).

Usage:
    python augmentation_demo.py --image jemma.png --output output --total 10
"""

import argparse
import math
import os

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-i", "--image", required=True, help="path to the input image")
    parser.add_argument("-o", "--output", required=True,
                        help="folder to store the augmented images in")
    parser.add_argument("-p", "--prefix", default="image",
                        help="file-name prefix of the augmented images (default: image)")
    parser.add_argument("-t", "--total", type=int, default=10,
                        help="number of augmented images to write (default: 10)")
    parser.add_argument("-m", "--montage", default=None,
                        help="montage PNG of the augmented images "
                             "(default: OUTPUT/PREFIX_montage.png)")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed, for reproducible images")
    return parser


def run(args):
    import cv2
    import numpy as np
    from imutils import build_montages

    if args.total < 1:
        raise ValueError(f"--total must be a positive integer, got {args.total}.")
    if not os.path.isfile(args.image):
        raise FileNotFoundError(f"could not read an image at --image {args.image!r}")
    with tensorflow_start_up_filtered():  # the checks passed: Keras loads, without TensorFlow's start-up lines
        import_keras()
    from keras.utils import img_to_array, load_img  # imports Keras: after the checks

    from pyimagesearch.augmentation import ImageAugmenter

    # load the input image (RGB), convert it to a NumPy array and add a batch dimension
    print("[INFO] loading example image...")
    try:
        image = img_to_array(load_img(args.image))
    except OSError as error:  # PIL's UnidentifiedImageError is an OSError
        raise ValueError(f"could not read an image at --image {args.image!r}: {error}") from None
    batch = np.expand_dims(image, axis=0)

    # the book's augmentation parameters
    aug = ImageAugmenter(rotation_range=30, width_shift_range=0.1,
                         height_shift_range=0.1, shear_range=0.2, zoom_range=0.2,
                         horizontal_flip=True, fill_mode="nearest", seed=args.seed)
    print("[INFO] generating images...")
    imageGen = aug.flow(batch, batch_size=1, save_to_dir=args.output,
                        save_prefix=args.prefix, save_format="jpg", seed=args.seed)

    # every batch drawn is also written to --output; stop after --total
    augmented = []
    for generated in imageGen:
        # the montage is written by OpenCV: uint8, BGR
        augmented.append(cv2.cvtColor(np.clip(generated[0], 0, 255).astype("uint8"),
                                      cv2.COLOR_RGB2BGR))
        if len(augmented) == args.total:
            break
    print(f"[INFO] wrote {len(augmented)} augmented images to {args.output}")

    (h, w) = image.shape[:2]
    columns = min(5, len(augmented))
    rows = math.ceil(len(augmented) / columns)
    montage = build_montages(augmented, (w, h), (columns, rows))[0]
    montagePath = args.montage or os.path.join(args.output, f"{args.prefix}_montage.png")
    os.makedirs(os.path.dirname(os.path.abspath(montagePath)), exist_ok=True)
    if not cv2.imwrite(montagePath, montage):
        raise ValueError(f"could not write the montage to {montagePath!r}")
    print(f"[INFO] montage saved to {montagePath}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
