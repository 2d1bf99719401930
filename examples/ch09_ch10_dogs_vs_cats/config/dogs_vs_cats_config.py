"""Configuration of the Dogs vs. Cats project (chapters 9 and 10), the book's names.

Instead of editing the paths, set them in the environment:

    DOGS_VS_CATS_ROOT     the Kaggle dataset folder, holding train/ with cat.N.jpg and
                          dog.N.jpg (default: ../datasets/kaggle_dogs_vs_cats)
    DOGS_VS_CATS_HDF5     folder of the HDF5 files and the means (default: ROOT/hdf5)
    DOGS_VS_CATS_OUTPUT   folder of the plots, histories and models (default: output)
    DOGS_VS_CATS_VAL_PER_CLASS, DOGS_VS_CATS_TEST_PER_CLASS
                          validation and test images per class (default: 1250 each)
    DOGS_VS_CATS_IMAGE_SIZE, DOGS_VS_CATS_CROP_SIZE
                          side of the stored images (256) and of the network input (227)

The HDF5 file names (train.hdf5, val.hdf5, test.hdf5) are those the builder writes.
"""

import os

# examples/settings.py: config/__init__.py puts the examples/ folder on the path
from settings import env_int

DATASET_ROOT = os.environ.get("DOGS_VS_CATS_ROOT", os.path.join("..", "datasets", "kaggle_dogs_vs_cats"))

# the input images (Kaggle's train/ folder: the labels are the file-name prefixes)
IMAGES_PATH = os.path.join(DATASET_ROOT, "train")

# the number of classes, and the validation and test images taken from the training data
NUM_CLASSES = 2
NUM_VAL_IMAGES = env_int("DOGS_VS_CATS_VAL_PER_CLASS", 1250) * NUM_CLASSES
NUM_TEST_IMAGES = env_int("DOGS_VS_CATS_TEST_PER_CLASS", 1250) * NUM_CLASSES

# stored image size (aspect-aware resize) and network input size (random patches / crops)
IMAGE_SIZE = env_int("DOGS_VS_CATS_IMAGE_SIZE", 256)
CROP_SIZE = env_int("DOGS_VS_CATS_CROP_SIZE", 227)

# the HDF5 datasets and the RGB means of the training set, side by side
HDF5_PATH = os.environ.get("DOGS_VS_CATS_HDF5", os.path.join(DATASET_ROOT, "hdf5"))
TRAIN_HDF5 = os.path.join(HDF5_PATH, "train.hdf5")
VAL_HDF5 = os.path.join(HDF5_PATH, "val.hdf5")
TEST_HDF5 = os.path.join(HDF5_PATH, "test.hdf5")
DATASET_MEAN = os.path.join(HDF5_PATH, "dogs_vs_cats_mean.json")

# chapter 10's ResNet50 features
FEATURES_HDF5 = os.path.join(HDF5_PATH, "features.hdf5")

# outputs: the trained AlexNet, its training plot and history, the features classifier
OUTPUT_PATH = os.environ.get("DOGS_VS_CATS_OUTPUT", "output")
MODEL_PATH = os.path.join(OUTPUT_PATH, "alexnet_dogs_vs_cats.keras")
FIG_PATH = os.path.join(OUTPUT_PATH, "alexnet_dogs_vs_cats.png")
JSON_PATH = os.path.join(OUTPUT_PATH, "alexnet_dogs_vs_cats.json")
CLASSIFIER_PATH = os.path.join(OUTPUT_PATH, "dogs_vs_cats.skops")
