"""The steps that chapter 11's and chapter 12's Tiny ImageNet scripts share.

DeeperGoogLeNet (ch11_googlenet/deepergooglenet/) and ResNet
(ch12_resnet/resnet_tinyimagenet/) train on the same HDF5 files with the same
preprocessing and augmentation, resume the same way ("ctrl + c" method) and are
scored the same way; each script keeps its own network, optimizer and schedule.
`config` is the script's `config/tiny_imagenet_config.py` module; importing it
puts the examples folder on `sys.path` (config/__init__.py), so a script imports
this module after its config:

```python
from config import tiny_imagenet_config as config
from tinyimagenet_common import build_generators, require_files
```

Keras and the library are imported inside the functions, so that `--help` and
the checks of missing files stay fast.
"""

import contextlib
import os

# the scripts import these from here, beside this module's own steps
from settings import add_resume_arguments, new_or_resumed, resume_checkpoint  # noqa: F401

from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered


def require_files(paths, builder="build_tiny_imagenet.py"):
    """Raises FileNotFoundError, naming the script that builds it, for the first missing path."""
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path!r} not found: run {builder} first.")


def add_worker_arguments(parser):
    """Adds `--workers` and `--seed` to a training script's parser."""
    parser.add_argument("--workers", type=int, default=1,
                        help="threads preparing batches (default: 1)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the weights, batch order and augmentation")
    return parser


def resume_start(args, config, builder="build_tiny_imagenet.py"):
    """Checks the "ctrl + c" switches and files; returns the epoch to start at.

    Raises:
        ValueError: a non-positive --epochs, --every or --lr.
        FileNotFoundError: a missing HDF5 file, means file or checkpoint.
    """
    return resume_checkpoint(args, before_check=lambda: require_files(
        (config.TRAIN_HDF5, config.VAL_HDF5, config.DATASET_MEAN), builder))


def preprocessors(config):
    """The image preprocessors: resize to IMAGE_SIZE, subtract the training set's RGB
    means, and convert to an array."""
    from pyimagesearch.preprocessing import (ImageToArrayPreprocessor, MeanPreprocessor,
                                             SimplePreprocessor)

    size = config.IMAGE_SIZE
    sp = SimplePreprocessor(size, size)
    mp = MeanPreprocessor.from_json(config.DATASET_MEAN)
    iap = ImageToArrayPreprocessor()
    return [sp, mp, iap]


def build_generators(config, batch_size, seed=None, workers=1, dist=None):
    """The training generator (augmented: rotation 18, zoom 0.15, shifts 0.2, shear
    0.15, horizontal flips; shuffled) and the validation generator.

    With `dist` (a `pyimagesearch.distribute.Distribution`) of several processes,
    each generator is this process's share of every batch and the augmentation
    is seeded per process.

    Returns:
        (trainGen, valGen), two `HDF5DatasetGenerator`s; close both after training.
    """
    from pyimagesearch.augmentation import ImageAugmenter
    from pyimagesearch.io import HDF5DatasetGenerator

    # the training image generator for data augmentation
    aug = ImageAugmenter(rotation_range=18, zoom_range=0.15, width_shift_range=0.2,
                         height_shift_range=0.2, shear_range=0.15, horizontal_flip=True,
                         fill_mode="nearest",
                         seed=seed if dist is None else dist.local_seed(seed))

    # the training and validation dataset generators
    steps = preprocessors(config)
    trainGen = HDF5DatasetGenerator(config.TRAIN_HDF5, batch_size, aug=aug,
                                    preprocessors=steps, classes=config.NUM_CLASSES,
                                    shuffle=True, seed=seed, workers=workers,
                                    max_queue_size=2 * workers + 8)
    valGen = HDF5DatasetGenerator(config.VAL_HDF5, batch_size, preprocessors=steps,
                                  classes=config.NUM_CLASSES, workers=workers)
    if dist is not None:
        (trainGen, valGen) = (dist.shard(trainGen), dist.shard(valGen))
    return trainGen, valGen


def seeded_generators(args, config, dist):
    """Seeds Keras with --seed, then the training and validation generators of
    `build_generators` with --workers, for `dist`."""
    import keras

    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    return build_generators(config, dist.batch_size, seed=args.seed, workers=args.workers, dist=dist)


def fit_resumable(model, trainGen, valGen, args, startAt, config, dist=None):
    """Trains epochs startAt + 1 to startAt + --epochs, checkpointing every --every
    epochs (and the last) and writing the plot and history at FIG_PATH and JSON_PATH
    (process 0 only, with a several-process `dist`); closes the generators."""
    from pyimagesearch.callbacks import EpochCheckpoint, TrainingMonitor
    from pyimagesearch.infra.progress import keras_verbose

    # checkpoints every --every epochs and the babysitter, both resuming at startAt
    callbacks = [
        EpochCheckpoint(args.checkpoints, every=args.every, startAt=startAt, saveLast=True),
        TrainingMonitor(config.FIG_PATH, jsonPath=config.JSON_PATH, startAt=startAt),
    ]
    if dist is not None:
        callbacks = dist.chief_only(callbacks)

    print(f"[INFO] training epochs {startAt + 1} to {startAt + args.epochs}...")
    # a resumed run continues the run's batch order, crops and augmentation; the
    # generator orders the batches itself (Keras' own shuffle would not continue)
    trainGen.set_epoch(startAt)
    guard = dist.guard(args.checkpoints) if dist is not None else contextlib.nullcontext()
    with guard:
        model.fit(trainGen, validation_data=valGen, initial_epoch=startAt,
                  epochs=startAt + args.epochs, callbacks=callbacks, verbose=keras_verbose(),
                  shuffle=False)

    last = os.path.join(args.checkpoints, f"epoch_{startAt + args.epochs}.keras")
    trainGen.close()
    valGen.close()
    if dist is None or dist.is_chief:
        print(f"[INFO] last checkpoint {last}, plot {config.FIG_PATH}, "
              f"history {config.JSON_PATH}")


def evaluate_test_split(config, model_path, batch_size, builder="build_tiny_imagenet.py"):
    """Rank-1 and rank-5 accuracy and the classification report of a model on TEST_HDF5,
    each class named by its WordNet name from WORD_LABELS (by its id if absent)."""
    require_files((config.TEST_HDF5, config.DATASET_MEAN), builder)
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"model {model_path!r} not found.")
    with tensorflow_start_up_filtered():  # the checks passed: Keras loads, without TensorFlow's start-up lines
        import_keras()

    from pyimagesearch.datasets import readable_names
    from pyimagesearch.io import HDF5DatasetGenerator
    from pyimagesearch.utils import as_class_names, evaluate_predictions, load_checkpoint
    from pyimagesearch.infra.progress import keras_verbose

    # the RGB means of the training set, and the image preprocessors
    steps = preprocessors(config)

    print("[INFO] loading model...")
    model = load_checkpoint(model_path)

    print("[INFO] predicting on test data...")
    with HDF5DatasetGenerator(config.TEST_HDF5, batch_size, preprocessors=steps,
                              classes=config.NUM_CLASSES) as testGen:
        wnids = as_class_names(testGen.db["label_names"][:])
        labels = testGen.db["labels"][:]
        predictions = model.predict(testGen, verbose=keras_verbose())
    if not os.path.isfile(config.WORD_LABELS):
        print(f"[INFO] {config.WORD_LABELS} not found: classes are shown by their WordNet ids")
    evaluate_predictions(predictions, labels, readable_names(wnids, config.WORD_LABELS))
