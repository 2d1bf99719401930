"""The "Migrating the book's code" table (docs/migration.md): every "now" line runs against this library."""

import warnings

import h5py
import keras
import numpy as np
import pytest
from datagen import write_noise_hdf5

from pyimagesearch.augmentation import ImageAugmenter
from pyimagesearch.callbacks import EpochCheckpoint, TrainingMonitor
from pyimagesearch.io import HDF5DatasetGenerator, HDF5DatasetWriter
from pyimagesearch.utils import as_class_names, load_checkpoint, rank5_accuracy


def _model(classes=2):
    from keras.layers import BatchNormalization, Dense, Flatten  # not keras.layers.normalization

    model = keras.Sequential([keras.Input((8, 8, 3)), BatchNormalization(), Flatten(),
                              Dense(classes, activation="softmax")])
    return model


def _db(path, n=40, classes=2):
    write_noise_hdf5(path, (n, 8, 8, 3), classes, label_names=[f"class{i}" for i in range(classes)])
    return str(path)


def test_fit_replaces_fit_generator_with_the_same_arguments(tmp_path):
    (trainX, trainY) = (np.random.default_rng(0).random((45, 8, 8, 3)).astype("float32"),
                        keras.utils.to_categorical(np.arange(45) % 2, 2))  # not np_utils
    aug = ImageAugmenter(rotation_range=30, width_shift_range=0.1, horizontal_flip=True)
    model = _model()
    opt = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True)  # not lr=
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    H = model.fit(aug.flow(trainX, trainY, batch_size=8), validation_data=(trainX, trainY),
                  steps_per_epoch=len(trainX) // 8, epochs=2, verbose=0)
    assert len(H.history["accuracy"]) == len(H.history["val_accuracy"]) == 2  # not "acc"


def test_fit_on_the_hdf5_generators_both_ways(tmp_path):
    db = _db(tmp_path / "train.hdf5")
    (trainGen, valGen) = (HDF5DatasetGenerator(db, 16, classes=2), HDF5DatasetGenerator(db, 16, classes=2))
    model = _model()
    model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    H = model.fit(trainGen.generator(), steps_per_epoch=trainGen.numImages // 16,
                  validation_data=valGen.generator(), validation_steps=valGen.numImages // 16,
                  epochs=2, verbose=0)
    assert len(H.history["val_loss"]) == 2
    callbacks = [keras.callbacks.History()]
    H = model.fit(trainGen, validation_data=valGen, epochs=1, callbacks=callbacks, shuffle=False, verbose=0)
    assert len(H.history["val_loss"]) == 1
    trainGen.close()
    valGen.close()


class _RecordingGenerator(HDF5DatasetGenerator):
    """Records the first row of every batch it serves (the rows' pixels hold their row number)."""

    def __getitem__(self, index):
        (images, labels) = super().__getitem__(index)
        self.served.append(int(images[0, 0, 0, 0]))
        return images, labels


def test_fit_reads_the_file_in_the_books_order_only_with_shuffle_false(tmp_path):
    import random

    n = 80
    with HDF5DatasetWriter((n, 8, 8, 3), str(tmp_path / "train.hdf5")) as writer:
        writer.storeClassLabels(["class0", "class1"])
        writer.add(np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 8, 8, 3)),
                   np.arange(n) % 2)
    trainGen = _RecordingGenerator(str(tmp_path / "train.hdf5"), 16, classes=2)
    model = _model()
    model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    books_order = [0, 16, 32, 48, 64] * 2  # fit_generator(trainGen.generator()): the file's order
    trainGen.served = []
    model.fit(trainGen, epochs=2, verbose=0, shuffle=False)
    assert trainGen.served[-10:] == books_order  # before them, Keras may peek at batches for their shapes
    random.seed(0)  # Keras draws fit's batch order from Python's random
    trainGen.served = []
    model.fit(trainGen, epochs=2, verbose=0)  # Keras' shuffle=True default reorders the batches
    assert sorted(trainGen.served[-10:]) == sorted(books_order) and trainGen.served[-10:] != books_order
    trainGen.close()


def test_the_ensembles_glob_finds_the_keras_saves(tmp_path):
    import glob
    import os

    from pyimagesearch.utils import ensemble_predict

    os.makedirs(tmp_path / "models")
    for i in range(2):  # train_models.py: model.save(os.path.sep.join([args["models"], f"model_{i}.keras"]))
        _model().save(os.path.sep.join([str(tmp_path / "models"), f"model_{i}.keras"]))
    modelPaths = os.path.sep.join([str(tmp_path / "models"), "*.keras"])
    modelPaths = list(glob.glob(modelPaths))
    assert len(modelPaths) == 2
    assert glob.glob(os.path.sep.join([str(tmp_path / "models"), "*.model"])) == []  # the book's glob
    testX = np.zeros((4, 8, 8, 3), "float32")
    (predictions, _) = ensemble_predict(modelPaths, testX)
    assert predictions.shape == (4, 2)
    with pytest.raises(ValueError, match="models is empty"):
        ensemble_predict(glob.glob(os.path.sep.join([str(tmp_path / "models"), "*.model"])), testX)


def test_predict_replaces_predict_generator(tmp_path):
    testGen = HDF5DatasetGenerator(_db(tmp_path / "test.hdf5", n=40, classes=6), 16, classes=6)
    model = _model(6)
    assert model.predict(testGen, verbose=0).shape == (40, 6)  # every image
    preds = model.predict(testGen.generator(), steps=testGen.numImages // 16, verbose=0)
    assert preds.shape == (32, 6)
    with pytest.warns(UserWarning, match="40 rows but preds only 32") as caught:
        (rank1, _) = rank5_accuracy(preds, testGen.db["labels"])
    assert 0 <= rank1 <= 1
    # hits / 32 here; the book's rank5_accuracy divided the same hits by all 40 labels
    assert f"(rank-1 {rank1:.2%}," in str(caught[0].message)
    assert f"divided by all 40 labels (rank-1 {rank1 * 32 / 40:.2%}," in str(caught[0].message)
    names = testGen.db["label_names"].asstr()[:]
    assert list(names) == as_class_names(testGen.db["label_names"][:]) == [f"class{i}" for i in range(6)]
    testGen.close()


def test_learning_rate_decay_get_and_set(tmp_path):
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=1, decay_rate=0.01 / 40)
    assert float(schedule(100)) == pytest.approx(0.01 / (1 + 0.01 / 40 * 100))  # Keras 2's decay=
    model = _model()
    model.compile(loss="categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9), metrics=["accuracy"])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)  # K.get_value(...lr)
    model.optimizer.learning_rate.assign(1e-5)  # K.set_value(model.optimizer.lr, 1e-5)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-5)


def test_save_names_and_the_books_checkpoints(tmp_path):
    model = _model()
    model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    model.save(tmp_path / "alexnet_dogs_vs_cats.keras")  # not .model
    with pytest.raises(ValueError):
        model.save(tmp_path / "alexnet_dogs_vs_cats.model")
    (x, y) = (np.zeros((4, 8, 8, 3), "float32"), keras.utils.to_categorical([0, 1, 0, 1], 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, epochs=1, verbose=0, callbacks=[
            EpochCheckpoint(tmp_path / "checkpoints", every=1, extension=".hdf5"),
            TrainingMonitor(tmp_path / "plot.png", jsonPath=tmp_path / "h.json")])
    assert load_checkpoint(tmp_path / "checkpoints" / "epoch_1.hdf5", verbose=0) is not None


def test_the_books_monitor_and_checkpoint_rows(tmp_path):
    import json

    (x, y) = (np.zeros((4, 8, 8, 3), "float32"), keras.utils.to_categorical([0, 1, 0, 1], 2))
    model = _model()
    model.compile(loss="categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    (tmp_path / "h.json").write_text(json.dumps({"loss": [1.0, 0.9, 0.8]}))
    with pytest.warns(UserWarning, match="holds 3 epochs.*appended.*startAt=3"):  # a new history, said
        model.fit(x, y, epochs=1, verbose=0, callbacks=[
            TrainingMonitor(tmp_path / "plot.png", jsonPath=tmp_path / "h.json")])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[
        TrainingMonitor(tmp_path / "plot.png", jsonPath=tmp_path / "h.json", startAt=1),
        EpochCheckpoint(tmp_path / "checkpoints", every=1, startAt=1, extension=".hdf5")])
    model.save(tmp_path / "final.keras")  # after the .hdf5 checkpoints: the optimizer is kept
    assert type(keras.models.load_model(tmp_path / "final.keras").optimizer).__name__ == "SGD"
    assert len(json.loads((tmp_path / "h.json").read_text())["loss"]) == 2
    from pyimagesearch.utils.checkpoints import save_model

    model.save(tmp_path / "mine.hdf5")  # the reader's own legacy save
    save_model(model, tmp_path / "mine.keras")
    assert type(keras.models.load_model(tmp_path / "mine.keras").optimizer).__name__ == "SGD"


def test_keras_utils_and_string_dtype(tmp_path):
    from keras.utils import img_to_array  # not keras.preprocessing.image

    assert img_to_array(np.zeros((4, 4, 3), np.uint8)).dtype == np.float32
    with h5py.File(tmp_path / "n.hdf5", "w") as db:
        db.create_dataset("label_names", (2,), dtype=h5py.string_dtype())  # not special_dtype(vlen=unicode)
    assert not hasattr(keras.callbacks, "BaseLogger")  # so TrainingMonitor subclasses Callback


def test_resnet50_include_top_false_needs_pooling_avg():
    model = keras.applications.ResNet50(weights=None, include_top=False, pooling="avg",
                                        input_shape=(32, 32, 3))
    assert model.output_shape == (None, 2048)  # the book's reshape((N, 2048)) still fits


def test_the_books_save_to_dir_line_runs_and_adds_files(tmp_path):
    import cv2

    path = tmp_path / "jemma.png"
    cv2.imwrite(str(path), np.full((16, 20, 3), (20, 60, 200), np.uint8))  # BGR: a red image
    from keras.utils import img_to_array, load_img  # not keras.preprocessing.image

    image = np.expand_dims(img_to_array(load_img(str(path))), axis=0)
    aug = ImageAugmenter(rotation_range=30, width_shift_range=0.1, horizontal_flip=True, fill_mode="nearest")
    for _ in range(2):  # the book's loop, twice: the second run adds files
        imageGen = aug.flow(image, batch_size=1, save_to_dir=str(tmp_path / "out"), save_prefix="image",
                            save_format="jpg")
        total = 0
        for _ in imageGen:
            total += 1
            if total == 3:
                break
    saved = sorted((tmp_path / "out").iterdir())
    assert len(saved) == 6
    assert cv2.imread(str(saved[0]))[8, 10, 2] > 150  # red stays red
