"""How a training run is distributed: one device, one machine's GPUs, or several processes.

The one module of the library that imports an engine (TensorFlow or JAX), and
only when that engine is asked for. A training script adds the switches to its
parser and configures itself once, before it builds or loads a model:

```python
from pyimagesearch.distribute import add_gpu_arguments, configure

add_gpu_arguments(parser)
...
dist = configure(args)                      # policy, engine, global batch size
trainGen = dist.shard(HDF5DatasetGenerator(path, dist.batch_size, ...))
with dist.scope():
    model = Network.build(...)
    model.compile(...)
model.fit(trainGen, callbacks=[...] + dist.chief_only([EpochCheckpoint(...)]))
dist.save(model, path)                      # process 0 only
```

`--batch-size` is the batch of one replica (one device), as in the book; the
global batch is that times the replicas, split evenly across them.

Strategies:
- `none`: the default device.
- `mirrored`: every GPU of this machine, one replica each: TensorFlow's
  `MirroredStrategy` on the TensorFlow backend, Keras' `DataParallel` over
  the local devices on the JAX backend.
- `multiworker`: several processes (one per machine, each using all its
  devices), Keras 3's `keras.distribution` on the JAX backend: the processes
  meet at the coordinator (`--coordinator host:port --num-processes N
  --process-id I`, or the `KERAS_DISTRIBUTION_*` / `SLURM_*` variables), each
  reads its own share of the data and XLA averages the gradients (NCCL on
  GPUs, gloo on CPUs). When a process dies, the others stop with JAX's
  "Terminating process because the JAX distributed service detected fatal
  errors" within `--heartbeat-timeout` seconds (default 60) instead of
  waiting forever; the rendezvous itself gives up after
  `INITIALIZATION_TIMEOUT` seconds.
"""

import contextlib
import dataclasses
import os

STRATEGIES = ("none", "mirrored", "multiworker")
MIXED_POLICY = "mixed_float16"
HEARTBEAT_TIMEOUT = 60
INITIALIZATION_TIMEOUT = 300
TF_MULTIWORKER_ISSUE = "https://github.com/keras-team/keras/issues/20585"


def add_gpu_arguments(parser):
    """Adds `--mixed-precision`, `--strategy` and the cluster options to a parser.

    Args:
        parser: an `argparse.ArgumentParser`.

    Returns:
        The parser.
    """
    group = parser.add_argument_group("GPU and cluster options")
    group.add_argument("--mixed-precision", action="store_true",
                       help="compute in float16 with float32 weights (Keras' mixed_float16 "
                            "policy); faster on GPUs with tensor cores")
    group.add_argument("--strategy", choices=STRATEGIES, default="none",
                       help="none (one device, default), mirrored (every GPU of this "
                            "machine) or multiworker (several processes or machines, "
                            "KERAS_BACKEND=jax); --batch-size is per replica")
    group.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                       help="multiworker: address of process 0, which every process "
                            "connects to (default: $KERAS_DISTRIBUTION_JOB_ADDRESSES)")
    group.add_argument("--num-processes", type=int, default=None, metavar="N",
                       help="multiworker: number of processes (default: "
                            "$KERAS_DISTRIBUTION_NUM_PROCESSES or $SLURM_NTASKS)")
    group.add_argument("--process-id", type=int, default=None, metavar="I",
                       help="multiworker: this process, 0..N-1; process 0 writes the "
                            "outputs (default: $KERAS_DISTRIBUTION_PROCESS_ID or "
                            "$SLURM_PROCID)")
    group.add_argument("--heartbeat-timeout", type=int, default=HEARTBEAT_TIMEOUT,
                       metavar="SECONDS",
                       help="multiworker: stop when another process has been silent this "
                            f"long (default: {HEARTBEAT_TIMEOUT})")
    return parser


@dataclasses.dataclass
class Distribution:
    """How a script trains: the engine, its replicas, the batch and this process's place.

    Attributes:
        strategy: a `tf.distribute.Strategy`, a `keras.distribution.Distribution`,
            or None for the default device.
        replicas: number of replicas (devices) that train in sync, all
            processes together.
        batch_size: the global batch size (per-replica batch x replicas).
        mixed_precision: whether the `mixed_float16` policy is set.
        process_id: this process, in `[0, num_processes)`.
        num_processes: number of processes in the run.
    """

    strategy: object
    replicas: int
    batch_size: int
    mixed_precision: bool
    process_id: int = 0
    num_processes: int = 1

    @property
    def is_chief(self):
        """Whether this process writes the outputs (process 0)."""
        return self.process_id == 0

    def scope(self):
        """The context in which to build, load and compile the model."""
        if self.strategy is None:
            return contextlib.nullcontext()
        return self.strategy.scope()

    def shard(self, generator):
        """This process's share of an `HDF5DatasetGenerator` built with `batch_size`.

        Args:
            generator: an `HDF5DatasetGenerator` whose batch is the global batch.

        Returns:
            The generator itself with one process, else
            `generator.shard(process_id, num_processes)`: its slice of every
            global batch (see `HDF5DatasetGenerator.shard`).
        """
        if self.num_processes == 1:
            return generator
        return generator.shard(self.process_id, self.num_processes)

    def shard_arrays(self, *arrays):
        """This process's equal share of in-memory arrays (rows `process_id::num_processes`).

        Every process gets the same number of rows (the last `len % num_processes`
        rows are dropped), so with the per-process batch
        `batch_size // num_processes` all processes run the same number of steps.

        Args:
            *arrays: arrays with the same number of rows.

        Returns:
            The arrays themselves with one process, else a tuple of their shares.

        Raises:
            ValueError: arrays of different lengths, or fewer rows than processes.
        """
        if self.num_processes == 1:
            return arrays
        rows = {len(array) for array in arrays}
        if len(rows) != 1:
            raise ValueError(f"arrays must have the same number of rows, got {sorted(rows)}.")
        rows = rows.pop()
        if rows < self.num_processes:
            raise ValueError(f"{rows} rows are fewer than the {self.num_processes} processes.")
        kept = rows - rows % self.num_processes
        return tuple(array[self.process_id:kept:self.num_processes] for array in arrays)

    def local_seed(self, seed):
        """A seed for this process's random augmentation or crops.

        Args:
            seed: the run's seed, or None.

        Returns:
            `seed` itself with one process (the book's run unchanged), else a
            seed derived from `seed` and `process_id`, so processes draw
            different transforms, reproducibly; None stays None.
        """
        if seed is None or self.num_processes == 1:
            return seed
        import numpy as np

        return int(np.random.SeedSequence([seed, self.process_id]).generate_state(1)[0])

    @property
    def process_batch_size(self):
        """The batch one process feeds per step: `batch_size // num_processes`."""
        return self.batch_size // self.num_processes

    def chief_only(self, callbacks):
        """The callbacks that write files, kept on process 0 only.

        Callbacks that change training (learning-rate schedules) must run in
        every process: do not pass them here. On process 0 of a multi-process
        run each callback runs outside the run's `keras.distribution`, so what
        it saves (`model.save` creates variables) involves no other process.

        Args:
            callbacks: a list of callbacks (checkpoints, plots, history).

        Returns:
            The callbacks on process 0 (wrapped when several processes run),
            an empty list elsewhere.
        """
        if not self.is_chief:
            return []
        if self.num_processes == 1:
            return list(callbacks)
        return [_outside_distribution_callback(callback) for callback in callbacks]

    def save(self, model, path):
        """Saves `model` to `path` from process 0 only (the others write nothing).

        Args:
            model: a `keras.Model`.
            path: where `model.save` writes.

        Returns:
            True where this process saved, False elsewhere.
        """
        if not self.is_chief:
            return False
        with _outside_distribution(self.num_processes):
            model.save(path)
        return True


@contextlib.contextmanager
def _outside_distribution(num_processes=2):
    """Unsets the global `keras.distribution` for a while, in a multi-process run."""
    if num_processes == 1:
        yield
        return
    import keras

    current = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(current)


def _outside_distribution_callback(callback):
    """Wraps a callback so that each of its hooks runs outside the distribution."""
    import keras

    class OutsideDistribution(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.callback = callback

        def set_model(self, model):
            super().set_model(model)
            self.callback.set_model(model)

        def set_params(self, params):
            super().set_params(params)
            self.callback.set_params(params)

    def hook(name):
        def run(self, *args, **kwargs):
            with _outside_distribution():
                return getattr(self.callback, name)(*args, **kwargs)
        return run

    for name in dir(keras.callbacks.Callback):
        if name.startswith("on_"):
            setattr(OutsideDistribution, name, hook(name))
    OutsideDistribution.__name__ = f"OutsideDistribution[{type(callback).__name__}]"
    return OutsideDistribution()


def configure(args, batch_size=None):
    """Sets the dtype policy and the distribution engine from the parsed switches.

    Call it once, before any model is built or loaded.

    Args:
        args: parsed arguments with `mixed_precision` and `strategy` (the cluster
            options for `multiworker`), and `batch_size` when `batch_size` is None.
        batch_size: the per-replica batch size; `args.batch_size` by default.

    Returns:
        A `Distribution`.

    Raises:
        ValueError: an unknown strategy, a non-positive batch size, a strategy
            the backend cannot serve, or an incomplete or inconsistent cluster.
    """
    import keras

    per_replica = args.batch_size if batch_size is None else batch_size
    if isinstance(per_replica, bool) or not isinstance(per_replica, int) or per_replica < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {per_replica!r}.")
    strategy_name = getattr(args, "strategy", "none")
    if strategy_name not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {STRATEGIES}, got {strategy_name!r}.")
    backend = keras.backend.backend()
    if strategy_name == "multiworker":
        # the cluster first: a bad --process-id fails before the policy changes
        cluster = cluster_from(args)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy(MIXED_POLICY)
    strategy, replicas, process_id, num_processes = None, 1, 0, 1
    if strategy_name == "mirrored":
        if backend == "tensorflow":
            import tensorflow as tf

            strategy = tf.distribute.MirroredStrategy()
            replicas = int(strategy.num_replicas_in_sync)
        elif backend == "jax":
            strategy = _data_parallel(keras)
            replicas = len(strategy.device_mesh.devices.flatten())
        else:
            raise ValueError(
                f"--strategy mirrored needs the TensorFlow or JAX backend, but KERAS_BACKEND "
                f"is {backend!r}; set KERAS_BACKEND=tensorflow or jax, or use --strategy none."
            )
    elif strategy_name == "multiworker":
        if backend != "jax":
            raise ValueError(
                f"--strategy multiworker needs KERAS_BACKEND=jax (it is {backend!r}): Keras 3 "
                f"trains across processes with keras.distribution on JAX, while TensorFlow's "
                f"MultiWorkerMirroredStrategy fails in model.fit with Keras 3 "
                f"({TF_MULTIWORKER_ISSUE})."
            )
        _join_cluster(cluster, keras)
        strategy = _data_parallel(keras)
        replicas = len(strategy.device_mesh.devices.flatten())
        process_id, num_processes = cluster.process_id, cluster.num_processes
    dist = Distribution(strategy=strategy, replicas=replicas,
                        batch_size=per_replica * replicas,
                        mixed_precision=bool(args.mixed_precision),
                        process_id=process_id, num_processes=num_processes)
    if dist.is_chief:
        processes = f" in {num_processes} processes" if num_processes > 1 else ""
        print(f"[INFO] strategy: {strategy_name}, {replicas} replica(s){processes}, global "
              f"batch size {dist.batch_size} ({per_replica} per replica), precision: "
              f"{MIXED_POLICY if dist.mixed_precision else 'float32'}")
    return dist


@dataclasses.dataclass
class Cluster:
    """Where the processes of a multi-process run meet.

    Attributes:
        coordinator: `host:port` of process 0.
        num_processes: number of processes.
        process_id: this process, in `[0, num_processes)`.
        heartbeat_timeout: seconds of silence after which a process counts as dead.
    """

    coordinator: str
    num_processes: int
    process_id: int
    heartbeat_timeout: int = HEARTBEAT_TIMEOUT


def cluster_from(args, environ=None):
    """The cluster from the switches, else the environment launchers set.

    `--coordinator`, `--num-processes` and `--process-id` win; each one missing
    is read from `KERAS_DISTRIBUTION_JOB_ADDRESSES` (the first address is the
    coordinator), `KERAS_DISTRIBUTION_NUM_PROCESSES` and
    `KERAS_DISTRIBUTION_PROCESS_ID`, then from SLURM's `SLURM_NTASKS` and
    `SLURM_PROCID`.

    Args:
        args: parsed arguments (`coordinator`, `num_processes`, `process_id`,
            `heartbeat_timeout`; missing attributes count as unset).
        environ: the environment (`os.environ` by default).

    Returns:
        A `Cluster`.

    Raises:
        ValueError: a missing coordinator, process count or process id, a
            malformed address or number, or a process id outside `[0, N)`.
    """
    environ = os.environ if environ is None else environ
    coordinator = getattr(args, "coordinator", None)
    if coordinator is None and environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES"):
        coordinator = environ["KERAS_DISTRIBUTION_JOB_ADDRESSES"].split(",")[0].strip()
    if not coordinator:
        raise ValueError("--strategy multiworker needs --coordinator HOST:PORT (process 0's "
                         "address) or KERAS_DISTRIBUTION_JOB_ADDRESSES.")
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--coordinator must be HOST:PORT, got {coordinator!r}.")
    num_processes = _cluster_int(args, "num_processes", "--num-processes", environ,
                                 ("KERAS_DISTRIBUTION_NUM_PROCESSES", "SLURM_NTASKS"))
    process_id = _cluster_int(args, "process_id", "--process-id", environ,
                              ("KERAS_DISTRIBUTION_PROCESS_ID", "SLURM_PROCID"))
    if num_processes < 1:
        raise ValueError(f"--num-processes must be at least 1, got {num_processes}.")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"--process-id must be in [0, {num_processes}), got {process_id}.")
    heartbeat = getattr(args, "heartbeat_timeout", HEARTBEAT_TIMEOUT)
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, int) or heartbeat < 1:
        raise ValueError(f"--heartbeat-timeout must be a positive integer, got {heartbeat!r}.")
    return Cluster(coordinator, num_processes, process_id, heartbeat)


def _cluster_int(args, name, flag, environ, variables):
    value = getattr(args, name, None)
    if value is not None:
        return value
    for variable in variables:
        if environ.get(variable, "") != "":
            try:
                return int(environ[variable])
            except ValueError:
                raise ValueError(
                    f"{variable} must be an integer, got {environ[variable]!r}."
                ) from None
    raise ValueError(f"--strategy multiworker needs {flag} or {' or '.join(variables)}.")


def _join_cluster(cluster, keras):
    """Connects this process to the others (JAX's coordination service) and shares a seed."""
    import jax
    import numpy as np
    from jax.experimental import multihost_utils

    # CPU processes exchange gradients over gloo; GPUs and TPUs use their own links
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=cluster.coordinator,
        num_processes=cluster.num_processes,
        process_id=cluster.process_id,
        initialization_timeout=INITIALIZATION_TIMEOUT,
        heartbeat_timeout_seconds=cluster.heartbeat_timeout,
        # use every local device, whatever SLURM_LOCALID says
        cluster_detection_method="deactivate",
    )
    # every process must initialise the weights alike (what keras.distribution.initialize
    # does): process 0's seed, unless the script sets its own afterwards
    seed = np.int64(np.random.SeedSequence().entropy % (2**31))
    seed = int(multihost_utils.broadcast_one_to_all(seed))
    keras.utils.set_random_seed(seed)


def _data_parallel(keras):
    """Keras' `DataParallel` over every device of the run, set as the global distribution."""
    distribution = keras.distribution.DataParallel(
        devices=keras.distribution.list_devices(), auto_shard_dataset=False,
    )
    keras.distribution.set_distribution(distribution)
    return distribution

