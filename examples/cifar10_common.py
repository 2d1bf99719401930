"""The steps that chapter 11's and chapter 12's CIFAR-10 scripts share.

MiniGoogLeNet (ch11_googlenet/googlenet_cifar10.py) and ResNet
(ch12_resnet/resnet_cifar10.py, resnet_cifar10_decay.py) train on CIFAR-10
scaled to [0, 1] and mean-subtracted, with the same augmentation (shifts 0.1,
horizontal flips), and are scored the same way; each script keeps its own
network, optimizer and schedule. A script imports this module after
`import _examples_path` (its folder's bootstrap, which puts the examples folder
on `sys.path`):

```python
import _examples_path  # noqa: F401  (puts examples/ on sys.path)
from cifar10_common import add_cifar_arguments, load_cifar10
```

Keras and the library are imported inside the functions, so that `--help`
stays fast.
"""


def add_output_arguments(parser):
    """Adds -m/--model and -o/--output (the plot and history's folder) to a CIFAR-10 script's parser."""
    parser.add_argument("-m", "--model", required=True, help="path of the trained model (.keras)")
    parser.add_argument("-o", "--output", required=True,
                        help="folder of the training plot and JSON history")
    return parser


def add_cifar_arguments(parser):
    """Adds `--cifar-dir` to a CIFAR-10 script's parser."""
    parser.add_argument("--cifar-dir", default=None,
                        help="extracted cifar-10-batches-py folder (default: download "
                             "through keras.datasets)")
    return parser


def add_seed_argument(parser):
    """Adds `--seed` to a CIFAR-10 script's parser."""
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the weights, batch order and augmentation")
    return parser


def load_cifar10(cifar_dir=None):
    """CIFAR-10 scaled to [0, 1] and mean-subtracted (the training set's mean image),
    the labels one-hot, and the class names.

    Args:
        cifar_dir: an extracted cifar-10-batches-py folder, or None for keras.datasets.

    Returns:
        ((trainX, trainY), (testX, testY)), labelNames.
    """
    from pyimagesearch.datasets import CIFAR10_LABELS, prepare_cifar10

    print("[INFO] loading CIFAR-10 data...")
    return prepare_cifar10(cifar_dir, subtract_mean=True), list(CIFAR10_LABELS)


def augmenter(dist, seed):
    """The image generator for data augmentation: shifts 0.1, horizontal flips,
    seeded per process."""
    from pyimagesearch.augmentation import ImageAugmenter

    return ImageAugmenter(width_shift_range=0.1, height_shift_range=0.1,
                          horizontal_flip=True, fill_mode="nearest",
                          seed=dist.local_seed(seed))


def evaluate(model, testX, testY, labelNames, dist):
    """The test-set classification report (one process only: several processes
    each hold a share of the network's batches)."""
    from pyimagesearch.utils import evaluate_predictions

    if dist.num_processes == 1:
        print("[INFO] evaluating network...")
        predictions = model.predict(testX, batch_size=dist.batch_size, verbose=0)
        evaluate_predictions(predictions, testY, labelNames)


def output_paths(folder, name, dist):
    """The training plot and JSON history `folder/name.png` and `folder/name.json`;
    process 0 makes the folder."""
    import os

    if dist.is_chief:
        os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{name}.png"), os.path.join(folder, f"{name}.json")


def save_model(model, path, dist, figPath, jsonPath):
    """Saves the trained model (process 0 only) and says where the outputs are."""
    print("[INFO] serializing network...")
    dist.save(model, path)
    if dist.is_chief:
        print(f"[INFO] model saved to {path}, plot {figPath}, history {jsonPath}")
    if dist.num_processes > 1 and dist.is_chief:
        print(f"[INFO] trained in {dist.num_processes} processes: evaluate {path} on "
              f"one machine (--strategy none)")


def train_with_decay(args, dist, data, labelNames, name, build):
    """Trains `build(classes)` on CIFAR-10 with SGD (momentum 0.9) and a polynomial
    decay of the learning rate, on augmented batches (each process its share of the
    rows, the book's epochs), then prints the test report and saves the model: the
    run of googlenet_cifar10.py and resnet_cifar10_decay.py.

    Args:
        args: the parsed arguments (add_output_arguments, add_cifar_arguments,
            settings.add_decay_arguments, add_seed_argument).
        dist: the `pyimagesearch.distribute.Distribution`.
        data: `((trainX, trainY), (testX, testY))` from `load_cifar10`.
        labelNames: the class names.
        name: the plot and history's file name in --output.
        build: `build(classes)`, the uncompiled network (called in the strategy's scope).
    """
    import keras

    from settings import compile_sgd, decay_callbacks

    from pyimagesearch.infra.progress import keras_verbose

    ((trainX, trainY), (testX, testY)) = data
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    aug = augmenter(dist, args.seed)
    (figPath, jsonPath) = output_paths(args.output, name, dist)
    callbacks = decay_callbacks(args, dist, figPath, jsonPath)

    print("[INFO] compiling model...")
    with dist.scope():
        model = compile_sgd(build(len(labelNames)), args.learning_rate)

    print("[INFO] training network...")
    # with several processes each trains on its share of the rows
    (shareX, shareY) = dist.shard_arrays(trainX, trainY)
    model.fit(aug.flow(shareX, shareY, batch_size=dist.process_batch_size,
                       seed=dist.local_seed(args.seed)),
              steps_per_epoch=max(1, len(shareX) // dist.process_batch_size),  # the book's epochs
              validation_data=dist.shard_arrays(testX, testY), epochs=args.epochs, callbacks=callbacks,
              verbose=keras_verbose())

    evaluate(model, testX, testY, labelNames, dist)
    save_model(model, args.model, dist, figPath, jsonPath)
