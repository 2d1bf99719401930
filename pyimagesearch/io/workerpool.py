"""The worker processes of `HDF5DatasetGenerator(use_multiprocessing=True)`.

Keras' process workers (`multiprocessing.Pool`) never notice a worker that
dies: the batch it was computing is lost and `fit` waits forever for it. Here
Keras runs threads, and each thread hands its batch to one of these processes
through a pipe of its own, waiting on the pipe and on the process at once: a
worker that dies (kill -9, out of memory) stops the run at once with one line
naming the process and the batch, and the shared-memory batches of the dead
and the stopped workers are removed.

Workers ignore Ctrl-C and SIGTERM, which reach the whole process group (the
training process handles them and stops its workers), and end by themselves
within a second when the training process is gone, even after a kill -9 of
it, or when another process (init, or a sub-reaper) adopts them, so none
outlives it.

Why not `concurrent.futures.ProcessPoolExecutor` and `multiprocessing.shared_memory`
(issue 28): a version on them (commit fccf901, reverted) hung, its executor
thread stuck, in 1 of 4 runs of the killed-training-process test and in 2 of
5 rounds of `benchmarks/bench_workers.py`; this pool starts no thread in the
training process. Its `SharedMemory` batches must be copied out on receipt
(`SharedMemory.close` fails while a view of its buffer lives), and it served
0.63x the images per second of this pool (the figures are in that benchmark).

A pool belongs to the process that made it. A child that this process forks
(`os.fork`, a library's subprocess helper) inherits the pool's objects but
not its workers: there the pool does nothing, and the workers are not the
child's to stop or wait for (multiprocessing would otherwise try to join them
at the child's exit and fail with "can only join a child process").
"""

import atexit
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import warnings
import weakref

from pyimagesearch.io.sharedbatch import ReceiveFailed, remove_leftovers

# how often an idle worker checks that the training process is still there
_PARENT_CHECK_S = 0.5

WORKER_NAME = "pyimagesearch-worker"


def _forget_inherited_workers():
    """In a child made by `os.fork`: the parent's workers are not this process's children."""
    # multiprocessing lists the processes it started in `process._children` and joins
    # them at exit; a child made by os.fork inherits the list (multiprocessing clears it
    # only in the children it starts itself)
    children = multiprocessing.process._children  # noqa: SLF001 - no public way to say it
    for process in [child for child in children if child.name == WORKER_NAME]:
        children.discard(process)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_workers)


class WorkerDied(RuntimeError):
    """A worker process died while it computed a batch."""


class WorkerPool:
    """`processes` forked copies of a dataset serving `dataset._make_batch(task)`.

    The processes start at the first `run` and keep the dataset as it was
    then; `close()` stops them (the owner's exit does too).

    Args:
        dataset: the object whose `_make_batch(task)` the workers call; held
            weakly, so the pool does not keep it alive.
        processes: number of worker processes.
        name: how error messages name the dataset.
    """

    def __init__(self, dataset, processes, name):
        self._dataset = weakref.ref(dataset)
        self.processes = int(processes)
        self.name = name
        self.owner_pid = os.getpid()
        self._workers = []
        self._idle = queue.Queue()
        self._lock = threading.Lock()
        self._error = None
        self._closed = False

    def run(self, task, label):
        """Computes `task` in a worker process and returns the result.

        Args:
            task: what the worker's `_make_batch` receives.
            label: how an error names the task ("batch 3 (rows 96:128)").

        Raises:
            WorkerDied: a worker died (this one or another, earlier).
            RuntimeError: the batch's shared memory could not be received.
            Exception: what `_make_batch` raised in the worker.
        """
        worker = self._checkout()
        (process, connection) = worker
        try:
            connection.send(task)
        except OSError:
            self._fail(worker, f"before it received {label}")
        try:
            multiprocessing.connection.wait([connection, process.sentinel])
            (ok, value) = connection.recv()
        except (EOFError, OSError):
            self._fail(worker, f"while computing {label}")
        self._idle.put(worker)
        if not ok:
            raise value
        if isinstance(value, tuple) and any(isinstance(part, ReceiveFailed) for part in value):
            raise RuntimeError(next(part for part in value if isinstance(part, ReceiveFailed)).message)
        return value

    def close(self):
        """Stops the workers and removes the shared-memory batches they left.

        In a process forked from the owner it only forgets them (they are the owner's).
        """
        if os.getpid() != self.owner_pid:
            self._workers = []
            return
        atexit.unregister(self._close_at_exit)
        with self._lock:
            self._closed = True
            self._stop_all()

    def _close_at_exit(self):
        # before multiprocessing's own exit hook (registered when `multiprocessing.connection`
        # was imported above, so it runs after this one), which would SIGTERM and then join
        # the workers: they ignore SIGTERM, and the join would wait forever
        if os.getpid() == self.owner_pid:
            self.close()

    def _checkout(self):
        with self._lock:
            self._raise_if_broken()
            if not self._workers:
                self._start()
        while True:
            try:
                return self._idle.get(timeout=0.2)
            except queue.Empty:
                self._raise_if_broken()

    def _raise_if_broken(self):
        if os.getpid() != self.owner_pid:
            raise RuntimeError(f"the worker processes of {self.name} belong to process {self.owner_pid}; "
                               "this process was forked from it: create a new generator here.")
        if self._error is not None:
            raise WorkerDied(self._error)
        if self._closed:
            raise RuntimeError(f"the worker processes of {self.name} were closed.")

    def _start(self):
        dataset = self._dataset()
        if dataset is None:
            raise RuntimeError(f"{self.name} no longer exists.")
        context = multiprocessing.get_context()
        for _ in range(self.processes):
            (mine, theirs) = context.Pipe()
            process = context.Process(target=_serve, args=(dataset, theirs, mine, self.owner_pid),
                                      name=WORKER_NAME, daemon=True)
            with warnings.catch_warnings():
                # JAX warns at every fork; the workers run the generator's numpy code, never JAX
                warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
                process.start()
            theirs.close()
            self._workers.append((process, mine))
            self._idle.put((process, mine))
        atexit.register(self._close_at_exit)

    def _fail(self, worker, when):
        """Stops every worker after `worker` died and raises the one-line `WorkerDied`."""
        with self._lock:
            if self._error is None and not self._closed:
                (process, _) = worker
                process.join(timeout=5)
                self._error = (f"worker process {process.pid} of {self.name} {_how(process.exitcode)} "
                               f"{when}; training stopped.")
            self._stop_all()
            self._raise_if_broken()

    def _stop_all(self):
        for (process, connection) in self._workers:
            if process.is_alive():
                process.kill()  # they ignore SIGTERM
        for (process, connection) in self._workers:
            process.join(timeout=5)
            with contextlib.suppress(OSError):
                connection.close()
            remove_leftovers(self.owner_pid, process.pid)
        self._workers = []


def _how(exitcode):
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-exitcode).name}"
        return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


def _serve(dataset, connection, parent_end, owner_pid):
    """A worker's loop: compute each task received, send back `(ok, result or error)`."""
    # Ctrl-C and a scheduler's SIGTERM reach the whole process group: the
    # training process handles them and stops its workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent_end.close()
    while True:
        while not connection.poll(_PARENT_CHECK_S):
            if os.getppid() != owner_pid:  # the training process is gone
                return
        try:
            task = connection.recv()
        except (EOFError, OSError):  # the training process is gone
            return
        try:
            reply = (True, dataset._make_batch(task))  # noqa: SLF001 - the pool's contract
        except Exception as error:  # noqa: BLE001 - sent back and raised in the training process
            reply = (False, error)
        try:
            connection.send(reply)
        except (EOFError, OSError):
            return
        except Exception as error:  # noqa: BLE001 - an error that does not pickle
            connection.send((False, RuntimeError(f"{type(error).__name__}: {error}")))
