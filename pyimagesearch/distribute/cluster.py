"""How a training run is distributed: one device, one machine's GPUs, or several processes.

The one module of the library that imports an engine (TensorFlow or JAX), and
only when that engine is asked for. A library user configures once, before
building or loading a model:

```python
from pyimagesearch.distribute import Cluster, configure

dist = configure("multiworker", batch_size=64,
                 cluster=Cluster("node1:5000", num_processes=2, process_id=0))
trainGen = dist.shard(HDF5DatasetGenerator(path, dist.batch_size, ...))
with dist.scope():
    model = Network.build(...)
    model.compile(...)
with dist.guard(checkpoints="output/checkpoints"):
    model.fit(trainGen, callbacks=[...] + dist.chief_only([EpochCheckpoint(...)]))
dist.save(model, path)                      # process 0 only
```

A training script adds the switches to its parser and calls
`configure_from_args(args)` instead, whose errors name the switches.
The batch size is the batch of one replica (one device), as in the book; the
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
  GPUs, gloo on CPUs). The start-up talks and gives up after
  `startup_timeout` seconds with one line (`pyimagesearch.distribute.rendezvous`); a
  process that dies or stays silent `heartbeat_timeout` seconds makes every
  other one print one line naming it, the last checkpoint and the command to
  resume, and exit with status 1 (`Distribution.guard`).
"""

import atexit
import contextlib
import dataclasses
import os
import re
import shlex
import sys
import threading
import time

from pyimagesearch.infra.progress import write_line
from pyimagesearch.infra.validation import check_choice, check_host_port, check_int

STRATEGIES = ("none", "mirrored", "multiworker")
MIXED_POLICY = "mixed_float16"
HEARTBEAT_TIMEOUT = 60
STARTUP_TIMEOUT = 120
FAILED_STATUS = 1  # a process of the run failed: the survivors' exit status
SETTLE_LIMIT = 60  # seconds process 0 lets a checkpoint save finish after another process failed
# seconds a save's temporary may stay unchanged before process 0 counts it stuck: a save whose
# weights come from a step that needed the lost process never ends (JAX's own abort would)
SETTLE_STALL = 3
STARTUP_STATUS = 2  # the processes could not meet
TF_MULTIWORKER_ISSUE = "https://github.com/keras-team/keras/issues/20585"
# what a collective operation raises when a peer is gone (gloo on CPUs, NCCL on GPUs)
_PEER_LOST = re.compile(r"Gloo|NCCL|Connection (closed|reset) by peer|coordination service|"
                        r"UNAVAILABLE|DEADLINE_EXCEEDED|heartbeat", re.IGNORECASE)


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
                            "connects to; the run uses PORT and PORT+1 "
                            "(default: $KERAS_DISTRIBUTION_JOB_ADDRESSES)")
    group.add_argument("--num-processes", type=int, default=None, metavar="N",
                       help="multiworker: number of processes (default: "
                            "$KERAS_DISTRIBUTION_NUM_PROCESSES or $SLURM_NTASKS)")
    group.add_argument("--process-id", type=int, default=None, metavar="I",
                       help="multiworker: this process, 0..N-1; process 0 writes the "
                            "outputs (default: $KERAS_DISTRIBUTION_PROCESS_ID or "
                            "$SLURM_PROCID)")
    group.add_argument("--heartbeat-timeout", type=int, default=HEARTBEAT_TIMEOUT,
                       metavar="SECONDS",
                       help="multiworker: stop when another process has died or been silent "
                            f"this long (default: {HEARTBEAT_TIMEOUT})")
    group.add_argument("--startup-timeout", type=int, default=STARTUP_TIMEOUT,
                       metavar="SECONDS",
                       help="multiworker: give up when the processes have not all joined "
                            f"after this long (default: {STARTUP_TIMEOUT})")
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
        watch: the `rendezvous.Watch` of a multi-process run, else None.
    """

    strategy: object
    replicas: int
    batch_size: int
    mixed_precision: bool
    process_id: int = 0
    num_processes: int = 1
    watch: object = None

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
        from pyimagesearch.distribute.outside import OutsideDistribution

        return [OutsideDistribution(callback) for callback in callbacks]

    def save(self, model, path):
        """Saves `model` to `path` from process 0 only (the others write nothing).

        Args:
            model: a `keras.Model`.
            path: where `model.save` writes; its folder is made if missing.

        Returns:
            True where this process saved, False elsewhere.
        """
        if not self.is_chief:
            return False
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if self.num_processes == 1:
            model.save(path)
            return True
        from pyimagesearch.distribute.outside import outside_distribution

        with outside_distribution():
            model.save(path)
        return True

    @contextlib.contextmanager
    def guard(self, checkpoints=None, resume_command=None, end_epoch=None):
        """The context of `model.fit` in which a failure or a signal ends every process in one line.

        In a multi-process run:

        - When another process dies or stays silent for `heartbeat_timeout`
          seconds, this process prints one line naming it, the last checkpoint
          in `checkpoints` and the command that resumes the run, removes its
          temporary files in `checkpoints`, and exits with status 1, whether
          the failure shows as an error of the training step (the collective
          operation lost its peer) or only to the watch (a hung peer). JAX's
          own abort is then never reached.
        - An error of this process itself (a full disk, a bad input) prints
          its one line (or its traceback, for a bug) and exits with status 1
          at once, without JAX's shutdown barrier; the others then report it.
        - SIGTERM or SIGINT (a scheduler's preemption, Ctrl-C) stops the run
          at process 0's next batch: another process forwards the signal to
          process 0, whose `EpochCheckpoint` saves the batch reached (on
          SIGTERM); every process then prints one line naming the checkpoint
          and exits with status 143 (SIGTERM) or 130 (SIGINT).

        Leaving the block normally tells the others that this process is done.
        With one process: only the signal handling (`interrupts_handled`).

        Args:
            checkpoints: the folder of `epoch_N` checkpoints, or None.
            resume_command: the command the line suggests; by default under
                `pyimagesearch launch` the launch command, else this process's
                own command line, without `--model`, `--start-epoch` and
                `--resume`, with `--resume auto`.
            end_epoch: the epoch training ends at, for scripts whose
                `--epochs` counts the epochs of one run (chapter 12's): the
                printed command's `--epochs` is then what is left after the
                checkpoint. None when `--epochs` is the total (the default).

        Yields:
            None.
        """
        from pyimagesearch.infra.signals import interrupts_handled, reassert_handlers

        with interrupts_handled():
            reassert_handlers()
            if self.watch is None:
                yield
                return
            failure = _Failure(self, checkpoints, resume_command, end_epoch)
            self.watch.on_failure = failure.from_watch
            self.watch.on_stopped = failure.from_chief_stop
            self.watch.settle = failure.settle
            self.watch.on_signal = _resend_signal
            if self.watch.failed is not None:
                failure.from_watch(self.watch.failed)
            with _signals_forwarded(self.watch, not self.is_chief) as forwarded:
                try:
                    yield
                except KeyboardInterrupt:
                    failure.stop(forwarded[0] if forwarded else None)
                except Exception as error:  # noqa: BLE001 - a lost peer becomes one line
                    if self.watch.failed is None and not _PEER_LOST.search(str(error)):
                        failure.own_error(error)
                    failure.from_step()  # exits when the watch names a failed process
                    failure.own_error(error)
            self.watch.finish()


def _resend_signal(name):
    """Process 0: another process received signal `name`; this one acts on it as its own."""
    import signal

    from pyimagesearch.infra.signals import request_stop

    if not request_stop(name):  # no callback stops at a batch: the signal itself
        os.kill(os.getpid(), int(signal.Signals[name]))


@contextlib.contextmanager
def _signals_forwarded(watch, forward):
    """Processes other than 0: a first SIGTERM or SIGINT is forwarded to process 0, a second stops."""
    import signal

    seen = []  # the signals received, for the closing line
    if not forward or threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def handler(signum, frame):
        name = signal.Signals(signum).name
        seen.append(name)
        if len(seen) > 1:
            raise KeyboardInterrupt(name)
        watch.forward_signal(name)  # this process goes on until process 0 stops the run

    previous = {signum: signal.signal(signum, handler)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield seen
    finally:
        for (signum, handler) in previous.items():
            signal.signal(signum, handler)


def _written(paths):
    """What has been written to `paths` so far: each one's name, size and modification time."""
    state = []
    for path in sorted(paths):
        with contextlib.suppress(OSError):
            stat = os.stat(path)
            state.append((path, stat.st_size, stat.st_mtime_ns))
    return state


class _Failure:
    """Turns a failure or a stop of the run into one line and an exit status."""

    def __init__(self, dist, checkpoints, resume_command, end_epoch=None):
        self.dist = dist
        self.checkpoints = checkpoints
        self.end_epoch = end_epoch
        self.resume_command = resume_command
        self.lock = threading.Lock()
        self.step_failed = threading.Event()

    def from_watch(self, process_id):
        # at once: when process 0 dies, JAX's client ends this process within
        # moments (`F... Terminating process`); process 0's checkpoint under
        # way is complete already (`settle`, before the watch calls this)
        self.report(process_id)

    def from_step(self):
        self.step_failed.set()
        deadline = time.monotonic() + self.dist.watch.heartbeat_timeout + 3
        while (self.dist.watch.failed is None and self.dist.watch.stopped is None
               and time.monotonic() < deadline):
            time.sleep(0.1)
        if self.dist.watch.stopped is not None:
            self.from_chief_stop(self.dist.watch.stopped)
        if self.dist.watch.failed is not None:
            self.report(self.dist.watch.failed)
        # no process failed: the error is this process's own
        self.step_failed.clear()

    def settle(self):
        """Process 0, before it tells the others that process failed: its checkpoint under way first.

        The main thread may be ending an epoch: saving its checkpoint, or
        holding it under its temporary name until the next epoch begins. This
        waits up to 3 s for the training step to fail (the next step after an
        epoch's end comes after the checkpoint is renamed into place), then as
        long as a temporary file of this process is left in the checkpoint
        folder and still being written, so that the checkpoint named is
        complete on disk. A temporary unchanged for `SETTLE_STALL` seconds is a
        save stuck on the lost process (the weights it reads wait for a step
        that needed it): the line then names the checkpoint before it.

        Returns:
            The text naming the last checkpoint (`where`).
        """
        self.step_failed.wait(timeout=3)
        if self.checkpoints is not None:
            from pyimagesearch.infra.atomic import own_temporaries

            began = changed = time.monotonic()
            (said, before) = (False, None)
            while (own_temporaries(self.checkpoints) and not self.step_failed.is_set()
                   and time.monotonic() - began < max(SETTLE_LIMIT, self.dist.watch.heartbeat_timeout)):
                now = _written(own_temporaries(self.checkpoints))
                if now != before:
                    (before, changed) = (now, time.monotonic())
                elif time.monotonic() - changed > SETTLE_STALL:
                    break  # stuck: never complete
                if not said and time.monotonic() - began > 3:
                    write_line(f"[INFO] process {self.dist.process_id}: a process failed; finishing the "
                               f"checkpoint being written in {self.checkpoints} first", sys.stdout)
                    said = True
                time.sleep(0.05)
        return self.where()

    def report(self, process_id):
        (n, timeout) = (self.dist.num_processes, self.dist.watch.heartbeat_timeout)
        self.exit(f"[ERROR] process {self.dist.process_id}: process {process_id} of {n} failed "
                  f"(died, or silent for {timeout} s); {self.where()}; {self.resume()}",
                  FAILED_STATUS)

    def own_error(self, error):
        from pyimagesearch.cli import EXPECTED_ERRORS, describe_error

        if isinstance(error, EXPECTED_ERRORS):
            what = describe_error(error).rstrip(".")
        else:  # a bug: its traceback, then the line
            import traceback

            traceback.print_exception(error)
            what = f"{type(error).__name__}: {' '.join(str(error).split())}"
        self.exit(f"[ERROR] process {self.dist.process_id}: {what}; the other processes stop "
                  f"too; {self.where()}; {self.resume()}", FAILED_STATUS)

    def stop(self, name=None):
        """This process stopped on signal `name` (process 0: after its checkpoint at the batch)."""
        import signal

        from pyimagesearch.infra.signals import interrupt_requested

        name = name or interrupt_requested() or "SIGINT"
        if self.dist.is_chief:
            self.dist.watch.stop(name, self.where())
        self.exit(f"[INFO] process {self.dist.process_id}: stopped by {name}; {self.where()}; "
                  f"{self.resume()}", 128 + int(signal.Signals[name]))

    def from_chief_stop(self, name):
        import signal

        self.exit(f"[INFO] process {self.dist.process_id}: process 0 stopped the run on {name}; "
                  f"{self.where()}; {self.resume()}", 128 + int(signal.Signals[name]))

    def where(self):
        from pyimagesearch.utils.checkpoints import resume_point

        if getattr(self.dist.watch, "chief_where", None):
            return self.dist.watch.chief_where  # what process 0 wrote, on its disk
        found = None if self.checkpoints is None else resume_point(self.checkpoints)
        if found is None:
            return "no checkpoint was written yet"
        (path, epoch, batch) = found
        at = f"epoch {epoch}" + (f", batch {batch} of epoch {epoch + 1}" if batch else "")
        return f"last checkpoint: {at} ({path})"

    def resume(self):
        if self.resume_command is not None:
            return f"resume with: {self.resume_command}"
        epochs = None
        if self.end_epoch is not None:
            from pyimagesearch.utils.checkpoints import resume_point

            found = None if self.checkpoints is None else resume_point(self.checkpoints)
            epochs = self.end_epoch - (0 if found is None else found[1])
        launched = os.environ.get(LAUNCH_VARIABLE)
        if launched:
            return f"resume the run with: {_resume_command(shlex.split(launched), epochs, None)}"
        return (f"resume process {self.dist.process_id} with: "
                f"{_resume_command(sys.argv, epochs)} (each process with its own --process-id)")

    def exit(self, line, status):
        with self.lock:
            sys.stdout.flush()
            write_line(line)
            # the output folders' locks (flock) are released by the system as the process ends
            if self.checkpoints is not None:
                from pyimagesearch.infra.atomic import remove_orphans

                remove_orphans(self.checkpoints, exiting=True)
            # skip JAX's exit handlers: they would wait for the other processes
            os._exit(status)


LAUNCH_VARIABLE = "PYIMAGESEARCH_LAUNCH_COMMAND"  # set by `pyimagesearch launch` for its processes


def _resume_command(argv, epochs=None, program="python"):
    """`argv` as a command without `--model`, `--start-epoch`, `--resume`, plus `--resume auto`.

    Args:
        argv: a command line (`sys.argv`, or a launch command).
        epochs: the value `--epochs`/`-e` gets, or None to keep it.
        program: the word put before `argv` ("python" for `sys.argv`), or None.
    """
    dropped = {"-m", "--model", "-s", "--start-epoch", "--resume"}
    if program is None:  # a launch command: its own `-m pyimagesearch` stays
        dropped.discard("-m")
    kept = []
    skip = False
    for word in argv:
        if skip:
            skip = False
            continue
        if word in dropped:
            skip = True
            continue
        if word.split("=", 1)[0] in dropped:
            continue
        kept.append(word)
    if epochs is not None:
        for (i, word) in enumerate(kept[:-1]):
            if word in ("-e", "--epochs"):
                kept[i + 1] = str(epochs)
        kept = [f"--epochs={epochs}" if w.startswith("--epochs=") else w for w in kept]
    return shlex.join([*([program] if program else []), *kept, "--resume", "auto"])


def configure(strategy="none", *, batch_size, mixed_precision=False, cluster=None,
              settings=None, dataset=None):
    """Sets the dtype policy and the distribution engine; returns how the run trains.

    Call it once, before any model is built or loaded.

    Args:
        strategy: "none", "mirrored" or "multiworker" (see the module).
        batch_size: the batch of one replica (one device).
        mixed_precision: whether to set Keras' `mixed_float16` policy.
        cluster: for "multiworker", a `Cluster`; by default the one the
            `KERAS_DISTRIBUTION_*` or `SLURM_*` variables describe
            (`Cluster.from_environment`).
        settings: for "multiworker", a dict of the settings every process
            must share (epochs, seed, model, data set: JSON values); the
            processes compare them, with the batch size and the library's and
            Keras' versions, when they meet, and a difference ends the start-up
            with one line naming it.
        dataset: for "multiworker", the data set's file (an HDF5 file or a
            means JSON of `build-dataset`) or a list of them: their build ids
            are compared too, so that processes reading different builds of
            the data (a copy not refreshed on one host) stop before training.

    Returns:
        A `Distribution`.

    Raises:
        ValueError: an unknown strategy, a non-positive batch size, a strategy
            the backend cannot serve, or an incomplete or inconsistent cluster.
        rendezvous.StartupError: the processes could not meet (one line).
    """
    batch_size = check_int(batch_size, "batch_size")
    check_choice(strategy, "strategy", STRATEGIES)
    watch = None
    if strategy == "multiworker":
        if cluster is None:
            cluster = Cluster.from_environment()
        if not isinstance(cluster, Cluster):
            raise ValueError(f"cluster must be a Cluster, got {type(cluster).__name__}.")
        cluster.check()
        # the local checks come first, before seconds of imports
        watch = _watch(cluster, run_settings(batch_size, mixed_precision, settings, dataset))
        watch.check_local()

    import keras

    backend = keras.backend.backend()
    if strategy == "multiworker" and backend != "jax":
        raise ValueError(
            f"strategy 'multiworker' needs KERAS_BACKEND=jax (it is {backend!r}): Keras 3 "
            f"trains across processes with keras.distribution on JAX, while TensorFlow's "
            f"MultiWorkerMirroredStrategy fails in model.fit with Keras 3 "
            f"({TF_MULTIWORKER_ISSUE})."
        )
    if strategy == "mirrored" and backend not in ("tensorflow", "jax"):
        raise ValueError(
            f"strategy 'mirrored' needs the TensorFlow or JAX backend, but KERAS_BACKEND "
            f"is {backend!r}; set KERAS_BACKEND=tensorflow or jax, or use strategy 'none'."
        )
    if mixed_precision:
        keras.mixed_precision.set_global_policy(MIXED_POLICY)
    (engine, replicas) = (None, 1)
    if strategy == "mirrored" and backend == "tensorflow":
        import tensorflow as tf

        engine = tf.distribute.MirroredStrategy()
        replicas = int(engine.num_replicas_in_sync)
    elif strategy in ("mirrored", "multiworker"):
        if strategy == "multiworker":
            _join_cluster(cluster, watch, keras)
        engine = _data_parallel(keras)
        replicas = len(engine.device_mesh.devices.flatten())
    (process_id, num_processes) = ((cluster.process_id, cluster.num_processes)
                                   if strategy == "multiworker" else (0, 1))
    dist = Distribution(strategy=engine, replicas=replicas, batch_size=batch_size * replicas,
                        mixed_precision=bool(mixed_precision), process_id=process_id,
                        num_processes=num_processes, watch=watch)
    if dist.is_chief:
        processes = f" in {num_processes} processes" if num_processes > 1 else ""
        print(f"[INFO] strategy: {strategy}, {replicas} replica(s){processes}, global "
              f"batch size {dist.batch_size} ({batch_size} per replica), precision: "
              f"{MIXED_POLICY if dist.mixed_precision else 'float32'}", flush=True)
    return dist


def configure_from_args(args, batch_size=None, dataset=None):
    """`configure` from a script's parsed switches (`add_gpu_arguments`).

    Errors name the switches. When the processes of a multi-process run
    cannot meet, or were started with different settings (the switches of
    `SHARED_SETTINGS` the script has, and the batch size), prints the one
    line that says why and exits with status 2.

    Args:
        args: parsed arguments with `strategy`, `mixed_precision`, the cluster
            options, and `batch_size` when `batch_size` is None.
        batch_size: the per-replica batch size; `args.batch_size` by default.
        dataset: the training data's file(s), whose build id the processes
            compare (see `configure`), or None.

    Returns:
        A `Distribution`.

    Raises:
        ValueError: a non-positive `--batch-size`, or a bad cluster (naming
            the switch or variable).
        FileNotFoundError: a `dataset` file is missing.
        SystemExit: the processes could not meet (status 2).
    """
    from pyimagesearch.distribute.rendezvous import StartupError

    per_replica = args.batch_size if batch_size is None else batch_size
    per_replica = check_int(per_replica, "--batch-size")
    strategy = check_choice(getattr(args, "strategy", "none"), "--strategy", STRATEGIES)
    cluster = cluster_from(args) if strategy == "multiworker" else None
    settings = {}
    for name in SHARED_SETTINGS:
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = value if isinstance(value, (int, float, bool)) else str(value)
    try:
        return configure(strategy, batch_size=per_replica,
                         mixed_precision=bool(getattr(args, "mixed_precision", False)),
                         cluster=cluster, settings=settings, dataset=dataset)
    except StartupError as error:
        write_line(f"[ERROR] process {cluster.process_id}: {error}")
        raise SystemExit(STARTUP_STATUS) from None


@dataclasses.dataclass
class Cluster:
    """Where the processes of a multi-process run meet.

    Attributes:
        coordinator: `host:port` of process 0 (the run uses `port` and `port + 1`).
        num_processes: number of processes.
        process_id: this process, in `[0, num_processes)`.
        heartbeat_timeout: seconds of silence after which a process counts as failed.
        startup_timeout: seconds after which the start-up gives up when
            processes are missing.
    """

    coordinator: str
    num_processes: int
    process_id: int
    heartbeat_timeout: int = HEARTBEAT_TIMEOUT
    startup_timeout: int = STARTUP_TIMEOUT

    def check(self):
        """Raises ValueError, naming the attribute, unless the cluster is well-formed."""
        check_host_port(self.coordinator, "coordinator", max_port=65534)  # the lobby uses port + 1
        for name in ("num_processes", "heartbeat_timeout", "startup_timeout"):
            check_int(getattr(self, name), name)
        process_id = self.process_id
        if (isinstance(process_id, bool) or not isinstance(process_id, int)
                or not 0 <= process_id < self.num_processes):
            raise ValueError(f"process_id must be in [0, {self.num_processes}), got "
                             f"{process_id!r}.")

    @classmethod
    def from_environment(cls, environ=None):
        """The cluster the `KERAS_DISTRIBUTION_*` or `SLURM_*` variables describe.

        Raises:
            ValueError: a variable missing or not an integer.
        """
        return _cluster(None, environ, _LIBRARY_NAMES)


_FLAGS = {"coordinator": "--coordinator HOST:PORT", "num_processes": "--num-processes",
          "process_id": "--process-id", "heartbeat_timeout": "--heartbeat-timeout",
          "startup_timeout": "--startup-timeout", "prefix": "--strategy multiworker"}
_LIBRARY_NAMES = {"coordinator": "cluster=Cluster(coordinator=...)",
                  "num_processes": "num_processes", "process_id": "process_id",
                  "heartbeat_timeout": "heartbeat_timeout", "startup_timeout": "startup_timeout",
                  "prefix": "strategy 'multiworker'"}


def cluster_from(args, environ=None):
    """The cluster from the switches, else the environment launchers set.

    `--coordinator`, `--num-processes` and `--process-id` win; each one missing
    is read from `KERAS_DISTRIBUTION_JOB_ADDRESSES` (the first address is the
    coordinator), `KERAS_DISTRIBUTION_NUM_PROCESSES` and
    `KERAS_DISTRIBUTION_PROCESS_ID`, then from SLURM's `SLURM_NTASKS` and
    `SLURM_PROCID`.

    Args:
        args: parsed arguments (`coordinator`, `num_processes`, `process_id`,
            `heartbeat_timeout`, `startup_timeout`; missing ones count as unset).
        environ: the environment (`os.environ` by default).

    Returns:
        A `Cluster`.

    Raises:
        ValueError: a missing coordinator, process count or process id, a
            malformed address or number, or a process id outside `[0, N)`,
            naming the switch or variable.
    """
    return _cluster(args, environ, _FLAGS)


def _cluster(args, environ, names):
    environ = os.environ if environ is None else environ
    coordinator = getattr(args, "coordinator", None)
    if coordinator is None and environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES"):
        coordinator = environ["KERAS_DISTRIBUTION_JOB_ADDRESSES"].split(",")[0].strip()
    if coordinator is None:
        coordinator = slurm_coordinator(environ)
    if not coordinator:
        raise ValueError(f"{names['prefix']} needs {names['coordinator']} (process 0's "
                         f"address), KERAS_DISTRIBUTION_JOB_ADDRESSES, or SLURM's "
                         f"SLURM_STEP_NODELIST and SLURM_JOB_ID (srun).")
    check_host_port(coordinator, names["coordinator"].split()[0], max_port=65534)
    num_processes = _cluster_int(args, "num_processes", names, environ,
                                 ("KERAS_DISTRIBUTION_NUM_PROCESSES", "SLURM_NTASKS"))
    process_id = _cluster_int(args, "process_id", names, environ,
                              ("KERAS_DISTRIBUTION_PROCESS_ID", "SLURM_PROCID"))
    if num_processes < 1:
        raise ValueError(f"{names['num_processes']} must be at least 1, got {num_processes}.")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"{names['process_id']} must be in [0, {num_processes}), got "
                         f"{process_id}.")
    timeouts = {}
    for (name, default) in (("heartbeat_timeout", HEARTBEAT_TIMEOUT),
                            ("startup_timeout", STARTUP_TIMEOUT)):
        timeouts[name] = check_int(getattr(args, name, default), names[name])
    return Cluster(coordinator, num_processes, process_id, **timeouts)


SLURM_PORTS = (61440, 4000)  # a SLURM run's port: 61440 + SLURM_JOB_ID % 4000 (and the next one)


def slurm_coordinator(environ=None):
    """Process 0's `host:port` under `srun`: the step's first node, a port from the job id.

    Args:
        environ: the environment (`os.environ` by default).

    Returns:
        `"HOST:PORT"`, or None outside a SLURM step (no `SLURM_STEP_NODELIST`
        or `SLURM_JOB_NODELIST`, or no `SLURM_JOB_ID`).

    Raises:
        ValueError: a node list or job id SLURM would not write, naming the variable.
    """
    environ = os.environ if environ is None else environ
    variable = next((name for name in ("SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST")
                     if environ.get(name, "").strip()), None)
    if variable is None or not environ.get("SLURM_JOB_ID", "").strip():
        return None
    try:
        job = int(environ["SLURM_JOB_ID"])
    except ValueError:
        raise ValueError(f"SLURM_JOB_ID must be an integer, got {environ['SLURM_JOB_ID']!r}.") from None
    (base, spread) = SLURM_PORTS
    return f"{first_host(environ[variable], variable)}:{base + job % spread}"


def first_host(nodelist, name="the node list"):
    """The first host of a SLURM node list: `"gpu[03-05,09],cpu1"` gives `"gpu03"`.

    Args:
        nodelist: SLURM's compressed list (`SLURM_STEP_NODELIST`).
        name: what holds it, for the message.

    Raises:
        ValueError: brackets that do not pair, or an empty first host.
    """
    (host, depth, group) = ([], 0, "")
    for character in nodelist.strip():
        if character == "[":
            (depth, group) = (depth + 1, "")
        elif character == "]":
            if depth != 1:
                break
            host.append(group.split(",")[0].split("-")[0])  # a range's first value, zero-padded
            depth = 0
        elif depth:
            group += character
        elif character == ",":
            break
        else:
            host.append(character)
    else:
        character = None
    host = "".join(host)
    if depth or character == "]" or not host or "[" in host:
        raise ValueError(f"{name} {nodelist!r} is not a SLURM node list (such as node[01-04]).")
    return host


def _cluster_int(args, name, names, environ, variables):
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
    raise ValueError(f"{names['prefix']} needs {names[name]} or {' or '.join(variables)}.")


SHARED_SETTINGS = ("epochs", "seed", "model", "network", "learning_rate", "start_epoch",
                   "resume")


def run_settings(batch_size, mixed_precision=False, settings=None, dataset=None):
    """The settings the processes of a run compare when they meet.

    Args:
        batch_size: the per-replica batch size.
        mixed_precision: whether the `mixed_float16` policy is asked for.
        settings: a dict of the script's own settings, or None.
        dataset: a data set's file (HDF5 or means JSON) or a list of them,
            or None.

    Returns:
        A dict: `settings` with the batch size, the precision, the versions
        of pyimagesearch and Keras (read without importing Keras) and, with
        `dataset`, its build id(s) (`dataset_build_id`).

    Raises:
        FileNotFoundError: a `dataset` file is missing.
    """
    from importlib import metadata

    from pyimagesearch import __version__

    try:
        keras_version = metadata.version("keras")
    except metadata.PackageNotFoundError:
        keras_version = None
    settings = {**dict(settings or {}), "batch_size": batch_size,
                "mixed_precision": bool(mixed_precision), "pyimagesearch": __version__,
                "keras": keras_version}
    if dataset is not None:
        from pyimagesearch.io.buildid import read_build_id

        paths = [dataset] if isinstance(dataset, (str, os.PathLike)) else list(dataset)
        ids = [read_build_id(path) for path in paths]
        settings["dataset_build_id"] = ids[0] if len(ids) == 1 else ids
    return settings


def _watch(cluster, settings=None):
    from pyimagesearch.distribute.rendezvous import Watch

    return Watch(cluster.coordinator, cluster.num_processes, cluster.process_id,
                 cluster.startup_timeout, cluster.heartbeat_timeout,
                 report=lambda line: write_line(line, sys.stdout), settings=settings)


def _join_cluster(cluster, watch, keras):
    """Gathers the processes (the watch's lobby), connects JAX's coordination service,
    and shares a seed."""
    # until Distribution.guard takes over, a process lost while the run starts (JAX's
    # start, the seed, the model's build) ends this one in one line too, not in JAX's abort
    watch.on_failure = lambda process_id: _failed_outside_guard(cluster, process_id)
    watch.gather()

    import jax
    import numpy as np
    from jax.experimental import multihost_utils

    # CPU processes exchange gradients over gloo; GPUs and TPUs use their own links
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    # JAX's preemption notifier takes SIGTERM at the C level and then ignores it:
    # the library's own handling (a checkpoint at the batch, one line) stays in force
    jax.config.update("jax_enable_preemption_service", False)
    jax.distributed.initialize(
        coordinator_address=cluster.coordinator,
        num_processes=cluster.num_processes,
        process_id=cluster.process_id,
        # every process is known to run: this covers JAX's own connection only
        initialization_timeout=cluster.startup_timeout,
        # the watch reports a failed process first; JAX's abort is the last resort
        heartbeat_timeout_seconds=2 * cluster.heartbeat_timeout + 10,
        shutdown_timeout_seconds=cluster.heartbeat_timeout,
        # use every local device, whatever SLURM_LOCALID says
        cluster_detection_method="deactivate",
    )
    # a normal exit outside the guard: the others leaving after JAX's shutdown is no failure
    # (registered after JAX's own exit handler, so it runs before it)
    atexit.register(setattr, watch, "on_failure", None)
    from pyimagesearch.infra.signals import reassert_handlers

    reassert_handlers()  # whatever handler the engine's start installed
    # every process must initialise the weights alike (what keras.distribution.initialize
    # does): process 0's seed, unless the script sets its own afterwards
    seed = np.int64(np.random.SeedSequence().entropy % (2**31))
    seed = int(multihost_utils.broadcast_one_to_all(seed))
    keras.utils.set_random_seed(seed)


def _failed_outside_guard(cluster, process_id):
    """The watch's answer to a failed process outside `Distribution.guard`: one line, status 1."""
    sys.stdout.flush()
    write_line(f"[ERROR] process {cluster.process_id}: process {process_id} of "
               f"{cluster.num_processes} failed (died, or silent for {cluster.heartbeat_timeout} s) "
               f"while this process was not in Distribution.guard (starting, or training without "
               f"it); start every process again (this one ran: {shlex.join(['python', *sys.argv])})")
    # the output folders' locks (flock) are released by the system as the process ends
    os._exit(FAILED_STATUS)  # JAX's exit handlers would wait for the failed process


def _data_parallel(keras):
    """Keras' `DataParallel` over every device of the run, set as the global distribution."""
    distribution = keras.distribution.DataParallel(
        devices=keras.distribution.list_devices(), auto_shard_dataset=False,
    )
    keras.distribution.set_distribution(distribution)
    return distribution
