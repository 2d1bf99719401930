"""The end-to-end training path on whatever backend KERAS_BACKEND names; run by test_backends.py.

HDF5DatasetWriter -> HDF5DatasetGenerator (random patches, mean subtraction,
ImageAugmenter) -> MiniVGGNet with a learning-rate schedule, TrainingMonitor and
EpochCheckpoint -> stop, resume from the checkpoint with a lower learning rate
(the book's "ctrl + c" method) -> predict from the generator and score rank-1/5.
Prints one JSON line with what the test checks.

Usage: python tests/backend_pipeline.py OUTPUT_FOLDER
"""

import json
import os
import sys

import numpy as np


def main(output):
    import keras

    from pyimagesearch.augmentation import ImageAugmenter
    from pyimagesearch.callbacks import EpochCheckpoint, TrainingMonitor
    from pyimagesearch.io import HDF5DatasetGenerator, HDF5DatasetWriter
    from pyimagesearch.nn.conv import MiniVGGNet
    from pyimagesearch.preprocessing import ImageToArrayPreprocessor, MeanPreprocessor, PatchPreprocessor
    from pyimagesearch.utils import PolynomialDecay, load_checkpoint, rank5_accuracy

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = np.arange(48) % 3
    images = (rng.integers(0, 60, (48, 36, 36, 3)) + 80 * labels[:, None, None, None]).astype("uint8")
    dbPath = os.path.join(output, "train.hdf5")
    with HDF5DatasetWriter(images.shape, dbPath) as writer:
        writer.storeClassLabels(["a", "b", "c"])
        writer.add(images, labels)

    means = MeanPreprocessor(*(float(images[..., c].mean()) for c in (2, 1, 0)))
    preprocessors = [PatchPreprocessor(32, 32, seed=0), means, ImageToArrayPreprocessor()]
    aug = ImageAugmenter(rotation_range=10, width_shift_range=0.1, zoom_range=0.1, horizontal_flip=True, seed=0)
    checkpoints = os.path.join(output, "checkpoints")
    history = os.path.join(output, "history.json")

    with HDF5DatasetGenerator(dbPath, 16, preprocessors=preprocessors, aug=aug, classes=3,
                              shuffle=True, seed=0) as trainGen:
        model = MiniVGGNet.build(32, 32, 3, 3)
        model.compile(loss="categorical_crossentropy", metrics=["accuracy"],
                      optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9))
        model.fit(trainGen, epochs=2, verbose=0, callbacks=[
            keras.callbacks.LearningRateScheduler(PolynomialDecay(maxEpochs=2, initAlpha=0.01)),
            TrainingMonitor(os.path.join(output, "plot.png"), jsonPath=history),
            EpochCheckpoint(checkpoints, every=1)])

        model = load_checkpoint(os.path.join(checkpoints, "epoch_2.keras"), learning_rate=1e-3, verbose=0)
        resumedRate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        model.fit(trainGen, epochs=1, verbose=0, callbacks=[
            TrainingMonitor(os.path.join(output, "plot.png"), jsonPath=history, startAt=2),
            EpochCheckpoint(checkpoints, every=1, startAt=2)])

    with HDF5DatasetGenerator(dbPath, 16, preprocessors=preprocessors, classes=3) as testGen:
        predictions = model.predict(testGen, verbose=0)
        (rank1, rank5) = rank5_accuracy(predictions, testGen.db["labels"][:])

    with open(history) as f:
        epochs = len(json.load(f)["loss"])
    print(json.dumps({
        "backend": keras.backend.backend(),
        "checkpoints": sorted(name for name in os.listdir(checkpoints) if name != ".pyimagesearch.lock"),
        "history_epochs": epochs,
        "resumed_learning_rate": resumedRate,
        "predictions": list(predictions.shape),
        "rank1": rank1,
        "rank5": rank5,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
