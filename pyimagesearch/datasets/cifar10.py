"""CIFAR-10 from a local `cifar-10-batches-py` folder or through keras.datasets."""

import os
import pickle

import numpy as np

CIFAR10_LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


def load_cifar10(cifar_dir=None):
    """Loads CIFAR-10 as uint8 (N, 32, 32, 3) RGB images and integer labels.

    Args:
        cifar_dir: path of an extracted `cifar-10-batches-py` folder (the
            Python version from the dataset's home page). None downloads it
            through `keras.datasets.cifar10` (or reads Keras' cache). The
            batches are pickles, as the dataset ships them: only the batch
            files are read, and only the NumPy types a batch holds are
            accepted, so a crafted file cannot run code.

    Returns:
        `((trainX, trainY), (testX, testY))`, labels as (N,) int64 arrays.

    Raises:
        FileNotFoundError: `cifar_dir` lacks a batch file, or the download fails.
        ValueError: a batch file is not a CIFAR-10 batch.
    """
    if cifar_dir is not None:
        return _load_batches(os.fspath(cifar_dir))
    import keras

    try:
        (trainX, trainY), (testX, testY) = keras.datasets.cifar10.load_data()
    except Exception as error:  # Keras wraps network failures in a bare Exception
        raise FileNotFoundError(
            "CIFAR-10 could not be downloaded (no network?): extract cifar-10-python.tar.gz "
            "(https://www.cs.toronto.edu/~kriz/cifar.html) and pass its cifar-10-batches-py "
            "folder with --cifar-dir."
        ) from error
    return (trainX, trainY.reshape(-1).astype("int64")), (testX, testY.reshape(-1).astype("int64"))


def _load_batches(folder):
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"CIFAR-10 folder not found: {folder!r} (expected cifar-10-batches-py)")
    train = [_read_batch(folder, name) for name in _TRAIN_BATCHES]
    trainX = np.concatenate([images for images, _ in train])
    trainY = np.concatenate([labels for _, labels in train])
    return (trainX, trainY), _read_batch(folder, "test_batch")


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR-10 batch: dicts, lists and bytes, plus the NumPy types of `data`.

    Any other type in the file is refused before it is built, so a crafted
    batch cannot run code.
    """

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not a type a CIFAR-10 batch holds")
        return super().find_class(module, name)


def _read_batch(folder, name):
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CIFAR-10 batch file missing: {path!r}")
    try:
        with open(path, "rb") as handle:
            batch = _BatchUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError) as error:
        raise ValueError(f"{path!r} is not a CIFAR-10 batch ({type(error).__name__}: {error}).") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"{path!r} is not a CIFAR-10 batch: it has no data and labels.")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.asarray(batch[b"labels"], dtype=np.int64)


def prepare_cifar10(cifar_dir=None, subtract_mean=False):
    """CIFAR-10 as the book's scripts feed it to a network.

    Images become float32 in [0, 1] (chapters 6 and 7) and, with
    `subtract_mean`, minus the training set's mean image (chapters 11 and 12);
    labels become one-hot float32 rows.

    Args:
        cifar_dir: see `load_cifar10`.
        subtract_mean: subtract the training images' mean image from both splits.

    Returns:
        `((trainX, trainY), (testX, testY))`.
    """
    (trainX, trainY), (testX, testY) = load_cifar10(cifar_dir)
    trainX = trainX.astype("float32") / 255.0
    testX = testX.astype("float32") / 255.0
    if subtract_mean:
        mean = trainX.mean(axis=0)
        trainX -= mean
        testX -= mean
    classes = np.eye(len(CIFAR10_LABELS), dtype="float32")
    return (trainX, classes[trainY]), (testX, classes[testY])
