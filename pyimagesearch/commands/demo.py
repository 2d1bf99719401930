"""Run the book's pipeline end to end on an embedded dataset, no download.

scikit-learn's 1,797 handwritten digit scans are written out as a folder of
32x32 BGR images; `build-dataset` packs them into train/val/test HDF5 files
plus RGB means; the network trains from the HDF5 generator with random 28x28
patches, mean subtraction, ImageAugmenter, a polynomial learning-rate decay,
a TrainingMonitor and EpochCheckpoint; the test split is scored with rank-1
and rank-5, plain and over-sampled with the 10 crops of chapter 10 (and with
the 5 unmirrored crops: a mirrored digit is another glyph). `--resume`
continues an interrupted demo from its last checkpoint.
"""

import os

HELP = "run the whole pipeline on the embedded digits dataset (no download)"

IMAGE_SIZE = 32
CROP_SIZE = 28
# 20 epochs of 32-image batches: more updates for less time than 25 epochs of 64
EPOCHS = 20
BATCH_SIZE = 32


def add_arguments(parser):
    parser.add_argument("--output", default="pyimagesearch-demo",
                        help="folder for the dataset, HDF5 files, plots and models")
    parser.add_argument("--epochs", type=_positive_int, default=EPOCHS, help=f"training epochs (default: {EPOCHS})")
    parser.add_argument("--model", type=_model_name, default="minivggnet",
                        help="network of pyimagesearch.nn.conv: minivggnet (default, fastest on a CPU), "
                             "minigooglenet, resnet, shallownet, lenet, ...")
    parser.add_argument("--batch-size", type=_positive_int, default=BATCH_SIZE,
                        help=f"training batch size (default: {BATCH_SIZE})")
    parser.add_argument("--learning-rate", type=float, default=1e-2,
                        help="initial learning rate of SGD, decayed linearly to 0")
    parser.add_argument("--checkpoint-every", type=_positive_int, default=5,
                        help="save a checkpoint every N epochs (default: 5)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the splits, patches and augmentation")
    parser.add_argument("--resume", action="store_true",
                        help="continue the demo in --output from its last checkpoint (default: a "
                             "new run, replacing an earlier run's history, plot and checkpoints)")


def check_paths(args):
    """Checks --output before the heavy imports (the demo rewrites its own files there)."""
    from pyimagesearch.commands._paths import check_output_folder

    check_output_folder(args.output, "--output")


def run(args):
    check_paths(args)
    results = run_demo(args.output, epochs=args.epochs, model=args.model, batchSize=args.batch_size,
                       learningRate=args.learning_rate, checkpointEvery=args.checkpoint_every, seed=args.seed,
                       resume=args.resume)
    print_results(results)
    return 0


def run_demo(output, epochs=EPOCHS, model="minivggnet", batchSize=BATCH_SIZE, learningRate=1e-2, checkpointEvery=5,
             seed=42, verbose=True, resume=False):
    """Runs the demo pipeline.

    An earlier run's history, plot and checkpoints in `output` are replaced
    (and it is said), unless `resume` continues that run from its last
    checkpoint, on the HDF5 files it trained on.

    Args:
        output: folder for every file the pipeline writes.
        epochs: training epochs.
        model: a name of `pyimagesearch.nn.conv.MODEL_NAMES`.
        batchSize: training batch size.
        learningRate: initial SGD learning rate (polynomial decay, power 1).
        checkpointEvery: epochs between checkpoints.
        seed: seed of the splits, patches, augmentation and weights.
        verbose: show progress and Keras' per-epoch lines.
        resume: continue the run in `output` from its last checkpoint (a new
            run when it has none).

    Returns:
        A dict with the accuracies (`plain`, `oversampled` (10 crops),
        `unmirrored` (5 crops): `(rank1, rank5)`) and the paths of the files written.

    Raises:
        ValueError: an unknown `model`, or training diverged (loss NaN).
    """
    from pyimagesearch.nn.names import check_model_name

    model = check_model_name(model, "model")  # before Keras loads: a typo is answered at once
    from pyimagesearch.infra.signals import interrupts_deferred
    from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered

    with interrupts_deferred():  # Ctrl-C or SIGTERM in the engine's import: right after it
        with tensorflow_start_up_filtered():  # TensorFlow's start-up lines below the log level
            keras = import_keras()

        from pyimagesearch.callbacks import EpochCheckpoint, TrainingMonitor
        from pyimagesearch.callbacks.stoponsignal import StopOnSignal
        from pyimagesearch.datasets import write_digits_dataset
        from pyimagesearch.io import HDF5DatasetGenerator, build_hdf5_splits
        from pyimagesearch.nn.conv import build_model
        from pyimagesearch.preprocessing import (
            CropPreprocessor, ImageToArrayPreprocessor, MeanPreprocessor, PatchPreprocessor,
            SimplePreprocessor)
        from pyimagesearch.utils import PolynomialDecay, load_checkpoint, predict_oversampled, rank5_accuracy
        from pyimagesearch.utils.checkpoints import latest_checkpoint
        from pyimagesearch.infra.progress import keras_verbose

    paths = _paths(output)
    keras.utils.set_random_seed(seed)
    found = latest_checkpoint(paths["checkpoints"]) if resume else None
    if resume and found is None:
        print(f"[INFO] --resume: no checkpoint in {paths['checkpoints']}, starting a new run")
    if found is None:
        _start_afresh(paths)

    if not os.path.isdir(paths["dataset"]):
        print("[INFO] writing the digits dataset...")
        write_digits_dataset(paths["dataset"], size=IMAGE_SIZE)
    if found is not None and all(os.path.isfile(path) for path in _hdf5_set(paths).values()):
        report = _existing_set(paths)
    else:
        print("[INFO] building the HDF5 datasets...")
        report = build_hdf5_splits(paths["dataset"], paths["hdf5"], size=IMAGE_SIZE, val_size=0.1,
                                   test_size=0.2, random_state=seed, overwrite=True, verbose=verbose)
    classes = len(report.class_names)
    means = MeanPreprocessor.from_json(report.means_path)
    toArray = ImageToArrayPreprocessor()
    aug = digits_augmenter(seed)
    trainGen = HDF5DatasetGenerator(report.paths["train"], batchSize, classes=classes, shuffle=True, seed=seed, aug=aug,
                                    preprocessors=[PatchPreprocessor(CROP_SIZE, CROP_SIZE, seed=seed), means, toArray])
    resize = [SimplePreprocessor(CROP_SIZE, CROP_SIZE), means, toArray]
    valGen = HDF5DatasetGenerator(report.paths["val"], batchSize, classes=classes, preprocessors=resize)

    if found is None:
        startAt = 0
        print(f"[INFO] training {model} for {epochs} epochs...")
        network = build_model(model, width=CROP_SIZE, height=CROP_SIZE, depth=3, classes=classes)
        network.compile(loss="categorical_crossentropy", metrics=["accuracy"],
                        optimizer=keras.optimizers.SGD(learning_rate=learningRate, momentum=0.9))
    else:
        (checkpoint, startAt) = found
        print(f"[INFO] --resume: continuing from {checkpoint} (epoch {startAt} of {epochs})...")
        network = load_checkpoint(checkpoint, verbose=0)
    schedule = PolynomialDecay(maxEpochs=epochs, initAlpha=learningRate, power=1.0)
    stop = StopOnSignal()  # Ctrl-C and SIGTERM stop between two batches, also under JAX
    callbacks = [
        stop,
        keras.callbacks.LearningRateScheduler(schedule),
        TrainingMonitor(paths["plot"], jsonPath=paths["history"], startAt=startAt),
        EpochCheckpoint(paths["checkpoints"], every=checkpointEvery, startAt=startAt),
    ]
    if startAt < epochs:
        trainGen.set_epoch(startAt)  # the interrupted run's patches and augmentation continue
        network.fit(trainGen, validation_data=valGen, initial_epoch=startAt, epochs=epochs,
                    callbacks=callbacks, verbose=keras_verbose() if verbose else 0)
        check_converged(network.history.history, model, learningRate)
    network.save(paths["model"])

    print("[INFO] evaluating on the test split...")
    with HDF5DatasetGenerator(report.paths["test"], batchSize, classes=classes, preprocessors=resize) as testGen:
        labels = testGen.db["labels"][:]
        plain = rank5_accuracy(network.predict(testGen, verbose=0, callbacks=[stop]), labels)
        images = testGen.db["images"][:]
    (oversampled, unmirrored) = (
        rank5_accuracy(predict_oversampled(network, images, CropPreprocessor(CROP_SIZE, CROP_SIZE, horiz=horiz),
                                           preprocessors=[means, toArray], batch_size=batchSize), labels)
        for horiz in (True, False))
    trainGen.close()
    valGen.close()
    return {"model": model, "epochs": epochs, "plain": plain, "oversampled": oversampled,
            "unmirrored": unmirrored, "skipped": len(report.skipped), "paths": paths}


def _start_afresh(paths):
    """Removes an earlier run's history, plot and checkpoints, saying so."""
    import glob

    earlier = [paths["history"], paths["plot"], *glob.glob(os.path.join(paths["checkpoints"], "epoch_*"))]
    earlier = [path for path in earlier if os.path.isfile(path)]
    if earlier:
        print(f"[INFO] {os.path.dirname(paths['history']) or '.'} holds an earlier demo run: starting a new "
              "one (its history, plot and checkpoints are replaced; --resume continues it instead)")
    for path in earlier:
        os.remove(path)


def _hdf5_set(paths):
    return {name: os.path.join(paths["hdf5"], f"{name}.hdf5") for name in ("train", "val", "test")}


def _existing_set(paths):
    """The `BuildReport` fields the demo reads, from the HDF5 set an interrupted run trained on."""
    import types

    import h5py

    with h5py.File(_hdf5_set(paths)["train"], "r") as train:
        names = list(train["label_names"].asstr()[:])
    return types.SimpleNamespace(paths=_hdf5_set(paths), class_names=names, skipped=[],
                                 means_path=os.path.join(paths["hdf5"], "mean.json"))


def check_converged(history, model, learningRate):
    """Raises instead of scoring a model whose training diverged (its loss is NaN or infinite).

    Args:
        history: Keras' `History.history`, a dict of per-epoch lists.
        model: the network's name, for the message.
        learningRate: the initial learning rate, for the message.

    Raises:
        ValueError: the last epoch's loss is not a finite number.
    """
    import math

    losses = history.get("loss", [])
    if losses and not math.isfinite(losses[-1]):
        raise ValueError(
            f"training diverged: {model}'s loss is {losses[-1]} after epoch {len(losses)} "
            f"(learning rate {learningRate}), so it predicts NaN and no accuracy can be scored; "
            "try a lower --learning-rate."
        )


def digits_augmenter(seed=None):
    """The demo's `ImageAugmenter`: the book's rotations, shifts, shear and zoom, no mirroring.

    A mirrored digit is another glyph (a 2 turns into an S), so unlike the
    book's photographs the digits are never flipped.
    """
    from pyimagesearch.augmentation import ImageAugmenter

    return ImageAugmenter(rotation_range=10, width_shift_range=0.1, height_shift_range=0.1,
                          shear_range=10, zoom_range=0.15, horizontal_flip=False, seed=seed)


def print_results(results):
    """Prints the demo's results table and the paths of its outputs."""
    print()
    print(f"Results: {results['model']}, {results['epochs']} epochs, test split of the digits")
    print(f"  {'evaluation':<24}{'rank-1':>9}{'rank-5':>9}")
    for name, key in (("plain (resize)", "plain"), ("10-crop over-sampled", "oversampled"),
                      ("5-crop, no mirroring", "unmirrored")):
        rank1, rank5 = results[key]
        print(f"  {name:<24}{rank1:>9.2%}{rank5:>9.2%}")
    print("  (chapter 10's 10 crops are 5 crops and their mirror images; a mirrored digit is\n"
          "   another glyph, never seen in training, so on the digits the gain of over-sampling\n"
          "   shows without the mirrors: CropPreprocessor(..., horiz=False))")
    print()
    for label, key in (("plot", "plot"), ("history", "history"), ("checkpoints", "checkpoints"),
                       ("model", "model"), ("HDF5 files", "hdf5")):
        if os.path.exists(results["paths"][key]):  # no checkpoint before the first --checkpoint-every
            print(f"  {label:<12} {results['paths'][key]}")


def _paths(output):
    return {
        "dataset": os.path.join(output, "digits"),
        "hdf5": os.path.join(output, "hdf5"),
        "plot": os.path.join(output, "training.png"),
        "history": os.path.join(output, "training.json"),
        "checkpoints": os.path.join(output, "checkpoints"),
        "model": os.path.join(output, "model.keras"),
    }


def _model_name(text):
    import argparse

    from pyimagesearch.nn.names import check_model_name

    try:
        return check_model_name(text, "--model")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive_int(text):
    import argparse

    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value
