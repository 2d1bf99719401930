"""Configuration of the DeeperGoogLeNet Tiny ImageNet project (chapter 11), the book's names.

Instead of editing the paths, set them in the environment:

    TINY_IMAGENET_ROOT       the extracted tiny-imagenet-200 folder, holding wnids.txt,
                             words.txt, train/ and val/ (default: ../datasets/tiny-imagenet-200)
    TINY_IMAGENET_HDF5       folder of the HDF5 files and the means (default: ROOT/hdf5)
    TINY_IMAGENET_OUTPUT     folder of the checkpoints, plots and histories (default: output)
    TINY_IMAGENET_NUM_CLASSES        number of classes (default: 200)
    TINY_IMAGENET_TEST_PER_CLASS     test images per class taken from train/ (default: 50)
    TINY_IMAGENET_IMAGE_SIZE         side of the stored images and network input (default: 64)

The HDF5 file names (train.hdf5, val.hdf5, test.hdf5) are those the builder writes.
"""

import os

# examples/settings.py: config/__init__.py puts the examples/ folder on the path
from settings import env_int

DATASET_ROOT = os.environ.get("TINY_IMAGENET_ROOT", os.path.join("..", "datasets", "tiny-imagenet-200"))

# the training and validation images, the validation labels, and the class names
TRAIN_IMAGES = os.path.join(DATASET_ROOT, "train")
VAL_IMAGES = os.path.join(DATASET_ROOT, "val", "images")
VAL_MAPPINGS = os.path.join(DATASET_ROOT, "val", "val_annotations.txt")
WORDNET_IDS = os.path.join(DATASET_ROOT, "wnids.txt")
WORD_LABELS = os.path.join(DATASET_ROOT, "words.txt")

# the number of classes, and the test images taken (stratified) from the training data
NUM_CLASSES = env_int("TINY_IMAGENET_NUM_CLASSES", 200)
NUM_TEST_IMAGES = env_int("TINY_IMAGENET_TEST_PER_CLASS", 50) * NUM_CLASSES

# stored image size, also the network's input size
IMAGE_SIZE = env_int("TINY_IMAGENET_IMAGE_SIZE", 64)

# the HDF5 datasets and the RGB means of the training set, side by side
HDF5_PATH = os.environ.get("TINY_IMAGENET_HDF5", os.path.join(DATASET_ROOT, "hdf5"))
TRAIN_HDF5 = os.path.join(HDF5_PATH, "train.hdf5")
VAL_HDF5 = os.path.join(HDF5_PATH, "val.hdf5")
TEST_HDF5 = os.path.join(HDF5_PATH, "test.hdf5")
DATASET_MEAN = os.path.join(HDF5_PATH, "tiny-image-net-200-mean.json")

# outputs: the checkpoints, the model to evaluate, the training plot and history
OUTPUT_PATH = os.environ.get("TINY_IMAGENET_OUTPUT", "output")
CHECKPOINTS_PATH = os.path.join(OUTPUT_PATH, "deepergooglenet_checkpoints")
MODEL_PATH = os.path.join(CHECKPOINTS_PATH, "epoch_70.keras")
FIG_PATH = os.path.join(OUTPUT_PATH, "deepergooglenet_tinyimagenet.png")
JSON_PATH = os.path.join(OUTPUT_PATH, "deepergooglenet_tinyimagenet.json")
