"""Configuration of the ResNet Tiny ImageNet project (chapter 12), the book's names.

Instead of editing the paths, set them in the environment:

    TINY_IMAGENET_ROOT       the extracted tiny-imagenet-200 folder, holding wnids.txt,
                             words.txt, train/ and val/ (default: ../datasets/tiny-imagenet-200)
    TINY_IMAGENET_HDF5       folder of the HDF5 files and the means (default: ROOT/hdf5)
    TINY_IMAGENET_OUTPUT     folder of the checkpoints, models, plots and histories (default: output)
    TINY_IMAGENET_NUM_CLASSES        number of classes (default: 200)
    TINY_IMAGENET_TEST_PER_CLASS     test images per class taken from train/ (default: 50)
    TINY_IMAGENET_IMAGE_SIZE         side of the stored images and network input (default: 64)

The HDF5 files are those chapter 11's deepergooglenet/build_tiny_imagenet.py writes
(train.hdf5, val.hdf5, test.hdf5 and the means): build them once for both chapters.
"""

import os


def _env_int(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"environment variable {name} must be a positive integer, got {value!r}.")
    return number


DATASET_ROOT = os.environ.get("TINY_IMAGENET_ROOT", os.path.join("..", "datasets", "tiny-imagenet-200"))

# the training and validation images, the validation labels, and the class names
TRAIN_IMAGES = os.path.join(DATASET_ROOT, "train")
VAL_IMAGES = os.path.join(DATASET_ROOT, "val", "images")
VAL_MAPPINGS = os.path.join(DATASET_ROOT, "val", "val_annotations.txt")
WORDNET_IDS = os.path.join(DATASET_ROOT, "wnids.txt")
WORD_LABELS = os.path.join(DATASET_ROOT, "words.txt")

# the number of classes, and the test images taken (stratified) from the training data
NUM_CLASSES = _env_int("TINY_IMAGENET_NUM_CLASSES", 200)
NUM_TEST_IMAGES = _env_int("TINY_IMAGENET_TEST_PER_CLASS", 50) * NUM_CLASSES

# stored image size, also the network's input size
IMAGE_SIZE = _env_int("TINY_IMAGENET_IMAGE_SIZE", 64)

# the HDF5 datasets and the RGB means of the training set, side by side
HDF5_PATH = os.environ.get("TINY_IMAGENET_HDF5", os.path.join(DATASET_ROOT, "hdf5"))
TRAIN_HDF5 = os.path.join(HDF5_PATH, "train.hdf5")
VAL_HDF5 = os.path.join(HDF5_PATH, "val.hdf5")
TEST_HDF5 = os.path.join(HDF5_PATH, "test.hdf5")
DATASET_MEAN = os.path.join(HDF5_PATH, "tiny-image-net-200-mean.json")

# outputs: the checkpoints (train.py), the model of train_decay.py (evaluated by
# rank_accuracy.py), the training plot and history of each
OUTPUT_PATH = os.environ.get("TINY_IMAGENET_OUTPUT", "output")
CHECKPOINTS_PATH = os.path.join(OUTPUT_PATH, "resnet_checkpoints")
MODEL_PATH = os.path.join(OUTPUT_PATH, "resnet_tinyimagenet.keras")
FIG_PATH = os.path.join(OUTPUT_PATH, "resnet_tinyimagenet.png")
JSON_PATH = os.path.join(OUTPUT_PATH, "resnet_tinyimagenet.json")
DECAY_FIG_PATH = os.path.join(OUTPUT_PATH, "resnet_tinyimagenet_decay.png")
DECAY_JSON_PATH = os.path.join(OUTPUT_PATH, "resnet_tinyimagenet_decay.json")
