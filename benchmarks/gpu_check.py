"""Is the GPU fed? Training images/s of the book's networks: data on the device vs the HDF5 generator.

    python benchmarks/gpu_check.py                 # every network, on the GPU (<= 8 min)
    python benchmarks/gpu_check.py --tiny          # a few seconds on a CPU (the test suite runs this)

For each book network at its book input size and batch size, with mixed
precision off and on:

- device: `train_on_batch` on one synthetic uint8 batch already on the
  device, so the GPU is the only limit;
- generator: `model.fit` on an `HDF5DatasetGenerator` over a small file of
  real-sized uint8 images (the book's stored size, its random patch and
  augmentation on the host, `workers` threads), i.e. the opt-in uint8 path:
  the model starts with `uint8_model`'s mean subtraction / scaling layers.

Efficiency = generator / device: 100% means the host keeps the GPU busy.
The device loop syncs once per step (`train_on_batch`), `fit` does not, so
for a network too small to load the GPU the efficiency can pass 100%.
Prints a Markdown table. Networks still waiting when --budget seconds have
passed are listed as skipped, so the run never overstays.
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

# name, build overrides, book batch, stored (height, width, depth), patch, augmentation
NETWORKS = [
    ("shallownet", {}, 32, (32, 32, 3), None, None),
    ("lenet", {}, 128, (28, 28, 1), None, None),
    ("minivggnet", {}, 64, (32, 32, 3), None,
     dict(rotation_range=30, width_shift_range=0.1, height_shift_range=0.1, shear_range=0.2,
          zoom_range=0.2, horizontal_flip=True)),
    ("alexnet", {}, 128, (256, 256, 3), 227,
     dict(rotation_range=20, zoom_range=0.15, width_shift_range=0.2, height_shift_range=0.2,
          shear_range=0.15, horizontal_flip=True)),
    ("minigooglenet", {}, 64, (32, 32, 3), None,
     dict(width_shift_range=0.1, height_shift_range=0.1, horizontal_flip=True)),
    ("deepergooglenet", {}, 64, (64, 64, 3), None,
     dict(rotation_range=18, zoom_range=0.15, width_shift_range=0.2, height_shift_range=0.2,
          shear_range=0.15, horizontal_flip=True)),
    ("resnet", {}, 128, (32, 32, 3), None,
     dict(width_shift_range=0.1, height_shift_range=0.1, horizontal_flip=True)),
    ("resnet", {"dataset": "tiny_imagenet"}, 64, (64, 64, 3), None,
     dict(rotation_range=18, zoom_range=0.15, width_shift_range=0.2, height_shift_range=0.2,
          shear_range=0.15, horizontal_flip=True)),
]
MEANS = (124.96, 115.97, 106.13)


def write_file(path, count, shape, classes, seed=0):
    from pyimagesearch.io import HDF5DatasetWriter

    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count,) + shape, dtype=np.uint8)
    with HDF5DatasetWriter((count,) + shape, path) as writer:
        writer.add(images, rng.integers(0, classes, count))


def build(name, overrides, mixed, size=None):
    """The book's network wrapped by `uint8_model`, compiled with the book's SGD."""
    import keras

    from pyimagesearch.nn.conv import book_config, build_model
    from pyimagesearch.nn.layers import uint8_model

    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    config = book_config(name, **({"dataset": overrides["dataset"]} if "dataset" in overrides else {}))
    config.update(overrides)
    if size is not None:
        config.update(width=size, height=size)
    net = build_model(name, **config)
    depth = config["depth"]
    model = uint8_model(net, mean=MEANS if depth == 3 else None, scale=depth != 3)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                  loss="categorical_crossentropy")
    return model, config["classes"]


def device_rate(model, batch, classes, steps, warmup):
    """Images/s of train_on_batch on one uint8 batch held on the device."""
    import keras

    rng = np.random.default_rng(0)
    shape = tuple(model.input_shape[1:])
    x = keras.ops.convert_to_tensor(rng.integers(0, 256, (batch,) + shape, dtype=np.uint8))
    y = keras.ops.convert_to_tensor(np.eye(classes, dtype="float32")[rng.integers(0, classes, batch)])
    for _ in range(warmup):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - start)


def generator_rate(model, path, batch, classes, patch, aug, steps, workers, read_path="auto"):
    """Images/s of model.fit on the HDF5 generator's uint8 path (one warm-up epoch first)."""
    from pyimagesearch.augmentation import ImageAugmenter
    from pyimagesearch.io import HDF5DatasetGenerator
    from pyimagesearch.preprocessing import PatchPreprocessor

    chain = [PatchPreprocessor(patch, patch, seed=0)] if patch else None
    augmenter = ImageAugmenter(**aug, seed=0) if aug else None
    gen = HDF5DatasetGenerator(path, batch, preprocessors=chain, aug=augmenter, classes=classes,
                               shuffle=True, seed=0, workers=workers, read_path=read_path)
    steps = min(steps, len(gen))
    with gen:
        model.fit(gen, epochs=1, steps_per_epoch=min(2, steps), verbose=0)
        start = time.perf_counter()
        model.fit(gen, epochs=1, steps_per_epoch=steps, verbose=0)
        return steps * batch / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", "--cpu", action="store_true",
                        help="smoke mode for a CPU: ShallowNet only, batch 4, 16x16 images, 2 steps")
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="networks to run (default: all the book's)")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps (default: 20)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="generator threads (default: one per core)")
    parser.add_argument("--read-path", choices=("auto", "mmap", "h5py"), default="auto",
                        help="the generator's read_path (default: auto, the memory map for these files)")
    parser.add_argument("--budget", type=float, default=360.0,
                        help="seconds after which remaining runs are skipped (default: 360)")
    args = parser.parse_args(argv)
    networks = NETWORKS
    if args.models:
        known = {name for (name, *_) in NETWORKS}
        unknown = sorted(set(args.models) - known)
        if unknown:
            parser.error(f"unknown --models {unknown}; choose from {sorted(known)}")
        networks = [n for n in NETWORKS if n[0] in args.models]
    (steps, warmup, size) = (args.steps, 3, None)
    if args.tiny:
        networks = [("shallownet", {}, 4, (16, 16, 3), None, dict(rotation_range=10, horizontal_flip=True))]
        (steps, warmup, size) = (2, 1, 16)
    if steps < 1 or args.workers < 1:
        parser.error("--steps and --workers must be positive")

    import keras

    devices = _devices()
    print(f"backend {keras.backend.backend()}, devices: {', '.join(devices) or 'CPU'}, "
          f"{os.cpu_count()} CPU cores, generator workers={args.workers}, read_path={args.read_path}\n")
    print("| network | input | batch | mixed precision | device img/s | generator img/s | efficiency |")
    print("|---|---|---:|---|---:|---:|---:|")
    start = time.perf_counter()
    try:
        run_all(networks, steps, warmup, size, args, start)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    print(f"\n{time.perf_counter() - start:.0f} s")
    return 0


def run_all(networks, steps, warmup, size, args, start):
    """Prints one table row per network and precision."""
    import keras

    with tempfile.TemporaryDirectory(prefix="gpu_check_") as folder:
        for (index, (name, overrides, batch, shape, patch, aug)) in enumerate(networks):
            label = name + (f" ({overrides['dataset']})" if overrides else "")
            path = os.path.join(folder, f"{index}.hdf5")
            for mixed in (False, True):
                if time.perf_counter() - start > args.budget:
                    print(f"| {label} | | {batch} | {'on' if mixed else 'off'} | skipped: "
                          f"--budget {args.budget:.0f} s spent | | |")
                    continue
                keras.backend.clear_session()
                model, classes = build(name, overrides, mixed, size)
                if not os.path.exists(path):
                    write_file(path, batch * max(2, min(steps, 20)), shape, classes)
                on_device = device_rate(model, batch, classes, steps, warmup)
                fed = generator_rate(model, path, batch, classes, patch, aug, steps, args.workers,
                                     args.read_path)
                dims = "x".join(str(d) for d in model.input_shape[1:])
                print(f"| {label} | {dims} | {batch} | {'on' if mixed else 'off'} | "
                      f"{on_device:,.0f} | {fed:,.0f} | {100 * fed / on_device:.0f}% |", flush=True)


def _devices():
    """Accelerators Keras sees, by name (empty on a CPU-only machine)."""
    import keras

    return [d for d in keras.distribution.list_devices() if "cpu" not in d.lower()]


if __name__ == "__main__":
    sys.exit(main())
