"""Training throughput of the book's networks at the book's input sizes.

Times `train_on_batch` (SGD, categorical cross-entropy) on random data after
warm-up steps that absorb graph compilation, and prints one Markdown table row
per network: input size, parameter count, images per second.

    python benchmarks/bench_models.py             # every network, 5 timed steps
    python benchmarks/bench_models.py --quick     # 2 timed steps
    python benchmarks/bench_models.py --models lenet resnet --steps 10
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from pyimagesearch.nn.conv import MODEL_NAMES, book_config, build_model  # noqa: E402

NETWORKS = [(name, {}) for name in MODEL_NAMES] + [
    ("resnet", dict(dataset="tiny_imagenet")),
]


def measure(name, kwargs, batch_size, steps, warmup):
    """Returns (label, input size, parameters, images per second) for one network."""
    config = book_config(name, **kwargs)
    model = build_model(name, **config)
    classes = config["classes"]
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                  loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((batch_size,) + tuple(model.input_shape[1:]), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, classes, batch_size), classes)
    for _ in range(warmup):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    elapsed = time.perf_counter() - start
    label = name if not kwargs else f"{name} ({kwargs['dataset']})"
    size = f"{config['width']}x{config['height']}x{config['depth']}"
    return label, size, model.count_params(), steps * batch_size / elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per network")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="2 timed steps, 1 warm-up")
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES,
                        help="networks to time (default: all)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.warmup = 2, 1
    if args.steps < 1 or args.warmup < 1 or args.batch_size < 1:
        parser.error("--steps, --warmup and --batch-size must be positive")

    print(f"backend {keras.backend.backend()}, batch {args.batch_size}, "
          f"{args.steps} timed steps after {args.warmup} warm-up steps\n")
    print("| network | input | parameters | images/s (training) |")
    print("|---|---|---:|---:|")
    for name, kwargs in NETWORKS:
        if args.models and name not in args.models:
            continue
        label, size, params, rate = measure(name, kwargs, args.batch_size, args.steps,
                                            args.warmup)
        print(f"| {label} | {size} | {params:,} | {rate:,.1f} |", flush=True)


if __name__ == "__main__":
    main()
