"""Training images/s of one process against two (`--strategy multiworker`), same run.

MiniVGGNet (32x32x3) trains from one HDF5 file of random images through
`HDF5DatasetGenerator` (each of 2 processes reads its `shard`), JAX backend
on the CPU, processes meeting at a localhost coordinator and averaging
gradients over gloo. Reports images/s over the epochs after the first
(compilation excluded) and the cost of one step's communication: an
all-reduce of as many float32 values as MiniVGGNet has parameters.

On a machine with C cores, 2 processes share them: the ratio is bounded by
the cores (on 2 cores, 2 processes each get one, where 1 process used both).
On GPU hosts the same command runs one process per host; see README.

    python benchmarks/bench_distributed.py [--rows 2048] [--epochs 3] [--batch-size 64]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.abspath(__file__)


def worker(args):
    """One process: trains, then times the all-reduce; writes JSON to args.result."""
    from pyimagesearch.distribute import configure_from_args

    args.strategy = "multiworker" if args.num_processes > 1 else "none"
    args.mixed_precision = False
    dist = configure_from_args(args)

    import keras

    from pyimagesearch.io import HDF5DatasetGenerator
    from pyimagesearch.nn.conv import MiniVGGNet

    keras.utils.set_random_seed(1)
    gen = dist.shard(HDF5DatasetGenerator(args.db, dist.batch_size, classes=10, shuffle=True,
                                          seed=1))
    model = MiniVGGNet.build(32, 32, 3, 10)
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    times = []
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: times.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: times.append(time.perf_counter()))
    model.fit(gen, epochs=args.epochs, verbose=0, callbacks=[timer])
    seconds = sum(times[i + 1] - times[i] for i in range(2, len(times), 2))
    images = dist.batch_size * len(gen) * (args.epochs - 1)
    result = {"images_per_second": images / seconds, "params": model.count_params(),
              "allreduce_ms": allreduce_ms(model.count_params()) if args.num_processes > 1 else 0}
    if dist.is_chief:
        with open(args.result, "w") as f:
            json.dump(result, f)


def allreduce_ms(count, repeats=20):
    """Milliseconds of one all-reduce (sum) of `count` float32 values across the processes."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec

    mesh = jax.make_mesh((jax.device_count(),), ("batch",))
    local = np.ones((jax.local_device_count(), count), "float32")
    arrays = jax.make_array_from_process_local_data(NamedSharding(mesh, PartitionSpec("batch")),
                                                    local)
    total = jax.jit(lambda x: jnp.sum(x, axis=0),
                    out_shardings=NamedSharding(mesh, PartitionSpec()))
    total(arrays).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        total(arrays).block_until_ready()
    return (time.perf_counter() - start) / repeats * 1000


def run(db, processes, args):
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    result = os.path.join(os.path.dirname(db), f"result_{processes}.json")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
    commands = [[sys.executable, HERE, "--worker", "--db", db, "--result", result,
                 "--epochs", str(args.epochs), "--batch-size", str(args.batch_size // processes),
                 "--num-processes", str(processes), "--process-id", str(p),
                 "--coordinator", f"localhost:{port}"] for p in range(processes)]
    running = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL) for command in commands]
    for process in running:
        if process.wait(timeout=1800) != 0:
            for other in running:
                other.kill()
            sys.exit(f"[ERROR] a {processes}-process run failed (exit {process.returncode}).")
    with open(result) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--num-processes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--process-id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--coordinator", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.heartbeat_timeout = 60
        return worker(args)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first compiles).")

    from pyimagesearch.io import HDF5DatasetWriter

    with tempfile.TemporaryDirectory() as folder:
        db = os.path.join(folder, "rows.hdf5")
        rng = np.random.default_rng(0)
        with HDF5DatasetWriter((args.rows, 32, 32, 3), db) as writer:
            writer.add(rng.integers(0, 256, (args.rows, 32, 32, 3), dtype=np.uint8),
                       rng.integers(0, 10, args.rows))
        one = run(db, 1, args)
        two = run(db, 2, args)
    step_ms = args.batch_size / two["images_per_second"] * 1000
    print(f"MiniVGGNet 32x32, global batch {args.batch_size}, {os.cpu_count()} CPU cores, JAX")
    print(f"1 process : {one['images_per_second']:8.1f} img/s")
    print(f"2 processes: {two['images_per_second']:8.1f} img/s  ratio {two['images_per_second'] / one['images_per_second']:.2f}x")
    print(f"all-reduce of {two['params']:,} float32 (one step's gradients): "
          f"{two['allreduce_ms']:.1f} ms of a {step_ms:.0f} ms step")


if __name__ == "__main__":
    main()
