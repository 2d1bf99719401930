"""Environment-variable settings of the chapter 9-12 config modules, and the training
steps the chapter 9-12 scripts share (arguments, schedule, compiling, resuming).

The config modules (`config/*_config.py`) keep the book's names, but read their
paths and sizes from the environment instead of being edited. A script imports
its config with the book's line, whatever the working directory:

```python
from config import tiny_imagenet_config as config
```

The package's `config/__init__.py` puts the examples/ folder on `sys.path` (for
this module and the `*_common.py` modules the chapters share), then imports the
config module inside `exit_on_bad_setting()`, so that a bad environment variable
ends the script with one line.
"""

import contextlib
import os
import sys


def env_int(name, default):
    """A positive integer from the environment variable `name`, or `default` if unset.

    Raises:
        ValueError: the variable is set to anything but a positive integer.
    """
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


@contextlib.contextmanager
def exit_on_bad_setting():
    """Ends the script with one `[ERROR] ...` line when the body raises ValueError
    (a config module's bad environment variable)."""
    try:
        yield
    except ValueError as error:
        sys.exit(f"[ERROR] {error}")


def add_decay_arguments(parser, epochs, batch_size, learning_rate):
    """Adds a polynomial-decay training script's -e/--epochs, -b/--batch-size,
    --learning-rate and --power, with the script's book defaults."""
    parser.add_argument("-e", "--epochs", type=int, default=epochs,
                        help=f"training epochs, the decay's length (default: {epochs})")
    parser.add_argument("-b", "--batch-size", type=int, default=batch_size,
                        help=f"mini-batch size per replica (default: {batch_size})")
    parser.add_argument("--learning-rate", type=float, default=learning_rate,
                        help=f"initial learning rate, decayed linearly to 0 (default: {learning_rate:g})")
    parser.add_argument("--power", type=float, default=1.0,
                        help="power of the polynomial decay (default: 1, linear)")
    return parser


def add_resnet_arguments(parser, stages, filters):
    """Adds a ResNet script's --stages and --filters, with the script's book defaults."""
    parser.add_argument("--stages", type=int, nargs="+", default=list(stages),
                        help=f"residual modules per stage (default: {' '.join(map(str, stages))})")
    parser.add_argument("--filters", type=int, nargs="+", default=list(filters),
                        help="filters of the stem and of each stage (default: "
                             f"{' '.join(map(str, filters))})")
    return parser


def check_epochs(args):
    """Raises ValueError for a non-positive --epochs."""
    if args.epochs < 1:
        raise ValueError("--epochs must be a positive integer.")


def decay_callbacks(args, dist, figPath, jsonPath):
    """The learning-rate schedule (PolynomialDecay from --learning-rate over --epochs,
    --power) and the babysitter, after the schedule so that the history records each
    epoch's learning rate; the babysitter on process 0 only."""
    import keras

    from pyimagesearch.callbacks import TrainingMonitor
    from pyimagesearch.utils import PolynomialDecay

    schedule = PolynomialDecay(maxEpochs=args.epochs, initAlpha=args.learning_rate,
                               power=args.power)
    callbacks = [keras.callbacks.LearningRateScheduler(schedule)]
    return callbacks + dist.chief_only([TrainingMonitor(figPath, jsonPath=jsonPath)])


def compile_sgd(model, learning_rate):
    """Compiles `model` for classification with SGD (momentum 0.9) at `learning_rate`."""
    import keras

    opt = keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    return model


def add_resume_arguments(parser, checkpoints, init_lr, batch_size=64):
    """Adds the "ctrl + c" switches: -c/--checkpoints (required when `checkpoints` is
    None), -m/--model, -s/--start-epoch, --resume auto, --lr, -e/--epochs and -b/--batch-size."""
    if checkpoints is None:
        parser.add_argument("-c", "--checkpoints", required=True, help="folder of the checkpoints")
    else:
        parser.add_argument("-c", "--checkpoints", default=checkpoints,
                            help=f"folder of the checkpoints (default: {checkpoints})")
    parser.add_argument("-m", "--model", default=None,
                        help="checkpoint to resume training from (default: a new network)")
    parser.add_argument("-s", "--start-epoch", type=int, default=None,
                        help="epoch the checkpoint was saved at (default: read from its "
                             "name, epoch_N.keras or epoch_N.hdf5; 0 for a new network)")
    parser.add_argument("--resume", choices=["auto"], default=None,
                        help="auto: resume from the last checkpoint in --checkpoints (a new "
                             "network when there is none); with several hosts the folder must "
                             "be shared, or copied to every host")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"learning rate: of a new network (default: {init_lr}) or the new "
                             "rate of a resumed one (default: the checkpoint's)")
    parser.add_argument("-e", "--epochs", type=int, default=10,
                        help="epochs to train in this run (default: 10)")
    parser.add_argument("-b", "--batch-size", type=int, default=batch_size,
                        help=f"mini-batch size per replica (default: {batch_size})")
    return parser


def resume_checkpoint(args, before_check=None):
    """Checks the "ctrl + c" switches; with --resume auto finds the last checkpoint in
    --checkpoints; returns the epoch to start at.

    Args:
        args: the parsed arguments (`add_resume_arguments`, and --every).
        before_check: optional check run before the checkpoint's (the data files').

    Raises:
        ValueError: a non-positive --epochs, --every or --lr.
        FileNotFoundError: a missing checkpoint (naming an epoch_N.keras beside a
            missing .hdf5).
    """
    if args.epochs < 1 or args.every < 1:
        raise ValueError("--epochs and --every must be positive integers.")
    if args.lr is not None and not args.lr > 0:
        raise ValueError(f"--lr must be a positive number, got {args.lr}.")
    from pyimagesearch.utils import check_checkpoint_path, resume_epoch
    from pyimagesearch.utils.checkpoints import latest_checkpoint

    if args.resume == "auto" and args.model is None:
        found = latest_checkpoint(args.checkpoints)
        if found is not None:
            (args.model, args.start_epoch) = found
            print(f"[INFO] --resume auto: {args.model} (epoch {args.start_epoch})")
    startAt = resume_epoch(args.model, args.start_epoch)
    if before_check is not None:
        before_check()
    if args.model is not None:
        check_checkpoint_path(args.model)
    return startAt


def new_or_resumed(args, startAt, dist, init_lr, build, optimizer):
    """A new compiled network, or the --model checkpoint with its optimizer state (and
    --lr as its new rate), in the strategy's scope.

    Args:
        args: the parsed "ctrl + c" arguments (`add_resume_arguments`).
        startAt: the epoch the checkpoint was saved at.
        dist: the `pyimagesearch.distribute.Distribution`.
        init_lr: the learning rate of a new network without --lr.
        build: `build()`, the uncompiled new network.
        optimizer: `optimizer(learning_rate)`, the new network's optimizer.
    """
    with dist.scope():
        if args.model is not None:
            return load_resumed(args.model, startAt, learning_rate=args.lr)
        print("[INFO] compiling model...")
        model = build()
        model.compile(loss="categorical_crossentropy", optimizer=optimizer(args.lr or init_lr),
                      metrics=["accuracy"])
        print(f"[INFO] learning rate: {args.lr or init_lr:.6g}")
        return model


def load_resumed(path, startAt, learning_rate=None):
    """The checkpoint at `path`, with its optimizer state, and optionally a new learning rate."""
    import keras

    from pyimagesearch.utils import load_checkpoint

    print(f"[INFO] loading {path} (epoch {startAt})...")
    model = load_checkpoint(path, learning_rate=learning_rate)
    rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    print(f"[INFO] learning rate: {rate:.6g}")
    return model
