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
The dataset settings are therefore chapter 11's config's, loaded from its file;
only the outputs below are this project's own.
"""

import importlib.util
import os

# chapter 11's config (deepergooglenet/config/tiny_imagenet_config.py): the dataset,
# its HDF5 files and means, read from the same environment variables
_CH11_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    "ch11_googlenet", "deepergooglenet", "config", "tiny_imagenet_config.py")
_spec = importlib.util.spec_from_file_location("ch11_tiny_imagenet_config", _CH11_CONFIG)
_ch11 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ch11)

# the training and validation images, the validation labels, and the class names
DATASET_ROOT = _ch11.DATASET_ROOT
TRAIN_IMAGES = _ch11.TRAIN_IMAGES
VAL_IMAGES = _ch11.VAL_IMAGES
VAL_MAPPINGS = _ch11.VAL_MAPPINGS
WORDNET_IDS = _ch11.WORDNET_IDS
WORD_LABELS = _ch11.WORD_LABELS

# the number of classes, the test images taken from the training data, the image size
NUM_CLASSES = _ch11.NUM_CLASSES
NUM_TEST_IMAGES = _ch11.NUM_TEST_IMAGES
IMAGE_SIZE = _ch11.IMAGE_SIZE

# the HDF5 datasets and the RGB means of the training set
HDF5_PATH = _ch11.HDF5_PATH
TRAIN_HDF5 = _ch11.TRAIN_HDF5
VAL_HDF5 = _ch11.VAL_HDF5
TEST_HDF5 = _ch11.TEST_HDF5
DATASET_MEAN = _ch11.DATASET_MEAN

# outputs: the checkpoints (train.py), the model of train_decay.py (evaluated by
# rank_accuracy.py), the training plot and history of each
OUTPUT_PATH = _ch11.OUTPUT_PATH
CHECKPOINTS_PATH = os.path.join(OUTPUT_PATH, "resnet_checkpoints")
MODEL_PATH = os.path.join(OUTPUT_PATH, "resnet_tinyimagenet.keras")
FIG_PATH = os.path.join(OUTPUT_PATH, "resnet_tinyimagenet.png")
JSON_PATH = os.path.join(OUTPUT_PATH, "resnet_tinyimagenet.json")
DECAY_FIG_PATH = os.path.join(OUTPUT_PATH, "resnet_tinyimagenet_decay.png")
DECAY_JSON_PATH = os.path.join(OUTPUT_PATH, "resnet_tinyimagenet_decay.json")
