"""The worker processes of `HDF5DatasetGenerator(use_multiprocessing=True)`.

Keras' process workers (`multiprocessing.Pool`) never notice a worker that
dies: the batch it was computing is lost and `fit` waits forever for it. Here
Keras runs threads, and each thread hands its batch to a
`concurrent.futures.ProcessPoolExecutor`, which notices a dead worker
(`BrokenProcessPool`): a worker that dies (kill -9, out of memory) stops the
run at once with one line naming the process and the batch it computed (each
worker writes the number of its task in a shared array), and the
shared-memory batches of the dead and the stopped workers are removed.

Workers ignore Ctrl-C and SIGTERM, which reach the whole process group (the
training process handles them and stops its workers), and end by themselves
within a second when the training process is gone, even after a kill -9 of
it, or when another process (init, or a sub-reaper) adopts them, so none
outlives it.

A pool belongs to the process that made it. A child that this process forks
(`os.fork`, a library's subprocess helper) inherits the pool's objects but
not its workers: there the pool does nothing, and the workers are not the
child's to stop or wait for (multiprocessing would otherwise try to join them
at the child's exit and fail with "can only join a child process").
"""

import atexit
import concurrent.futures
import contextlib
import itertools
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import os
import signal
import threading
import time
import warnings
import weakref

from pyimagesearch.io.sharedbatch import ReceiveFailed, remove_leftovers, start_resource_tracker

# how often a worker checks that the training process is still there
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


class _WorkerContext(multiprocessing.context.ForkContext):
    """The fork context, naming the processes it makes and keeping them for the pool's messages."""

    def __init__(self):
        self.started = []

    def Process(self, *args, **kwargs):  # noqa: N802 - multiprocessing's name
        process = multiprocessing.context.ForkProcess(*args, **kwargs)
        process.name = WORKER_NAME
        self.started.append(process)
        return process


class WorkerPool:
    """`processes` forked copies of a dataset serving `dataset._make_batch(task)`.

    A `concurrent.futures.ProcessPoolExecutor` (fork context) whose workers
    receive the dataset once, when they start at the first `run`, and keep it
    as it was then; `close()` stops them (the owner's exit does too).

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
        self._executor = None
        self._context = None
        self._slots = None  # per worker: its pid and the number of the task it computes
        self._labels = {}  # number of a task in flight: its label
        self._numbers = itertools.count(1)
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
        with self._lock:
            self._raise_if_broken()
            if self._executor is None:
                self._start()
            number = next(self._numbers)
            self._labels[number] = label
            try:
                future = self._submit(number, task)
            except concurrent.futures.process.BrokenProcessPool:
                future = None
        try:
            value = future.result() if future is not None else None
        except concurrent.futures.process.BrokenProcessPool:
            self._fail(label)
        finally:
            with self._lock:
                self._labels.pop(number, None)
        if future is None:
            self._fail(label)
        if isinstance(value, tuple) and any(isinstance(part, ReceiveFailed) for part in value):
            raise RuntimeError(next(part for part in value if isinstance(part, ReceiveFailed)).message)
        return value

    def close(self):
        """Stops the workers and removes the shared-memory batches they left.

        In a process forked from the owner it only forgets them (they are the owner's).
        """
        if os.getpid() != self.owner_pid:
            self._executor = None
            return
        atexit.unregister(self._close_at_exit)
        with self._lock:
            self._closed = True
            self._stop_all()

    def _close_at_exit(self):
        # before multiprocessing's own exit hook (registered when `multiprocessing.connection`
        # was imported above, so it runs after this one), which would join the workers
        if os.getpid() == self.owner_pid:
            self.close()

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
        start_resource_tracker()
        self._context = _WorkerContext()
        self._slots = self._context.RawArray("q", 2 * self.processes)
        self._executor = concurrent.futures.ProcessPoolExecutor(
            self.processes, mp_context=self._context, initializer=_start_worker,
            initargs=(dataset, self.owner_pid, self._slots, self._context.Lock()))
        atexit.register(self._close_at_exit)

    def _submit(self, number, task):
        with warnings.catch_warnings():
            # the workers start at the first submit; JAX warns at every fork, and the
            # workers run the generator's numpy code, never JAX
            warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
            warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks",
                                    category=DeprecationWarning)
            return self._executor.submit(_compute, number, task)

    def _fail(self, label):
        """Stops every worker after one died and raises the one-line `WorkerDied`."""
        with self._lock:
            if self._error is None and not self._closed:
                self._error = self._death_message(label)
            self._stop_all()
            self._raise_if_broken()

    def _death_message(self, label):
        # the executor says that a worker died, not which one: the one that ended
        workers = self._context.started
        ended = multiprocessing.connection.wait([process.sentinel for process in workers], timeout=5)
        process = next((process for process in workers if process.sentinel in ended), workers[0])
        deadline = time.monotonic() + 5
        # the executor's thread may be reaping it: its exit code shows once that is done
        while ended and process.exitcode is None and time.monotonic() < deadline:
            time.sleep(0.01)
        number = next((self._slots[2 * slot + 1] for slot in range(self.processes)
                       if self._slots[2 * slot] == process.pid), 0)
        when = (f"while computing {self._labels[number]}" if number in self._labels
                else f"before it received {label}")
        return f"worker process {process.pid} of {self.name} {_how(process.exitcode)} {when}; training stopped."

    def _stop_all(self):
        if self._executor is None:
            return
        workers = self._context.started
        for process in workers:
            if process.is_alive():
                process.kill()  # they ignore SIGTERM
        for process in workers:
            process.join(timeout=5)
        self._executor.shutdown(wait=True, cancel_futures=True)
        for process in workers:
            remove_leftovers(self.owner_pid, process.pid)
        self._executor = None


def _how(exitcode):
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-exitcode).name}"
        return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


_DATASET = None  # in a worker: the dataset it serves
_SLOTS = None  # in a worker: the pool's shared array of (pid, task number) pairs
_SLOT = None  # in a worker: the index of its pair


def _start_worker(dataset, owner_pid, slots, lock):
    """A worker's initializer: keeps the dataset, claims a slot, leaves when the owner is gone."""
    global _DATASET, _SLOTS, _SLOT  # noqa: PLW0603 - the executor's way to give a worker its state
    # Ctrl-C and a scheduler's SIGTERM reach the whole process group: the
    # training process handles them and stops its workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    (_DATASET, _SLOTS) = (dataset, slots)
    with lock:
        _SLOT = next(slot for slot in range(len(slots) // 2) if slots[2 * slot] == 0)
        slots[2 * _SLOT] = os.getpid()
    threading.Thread(target=_leave_with, args=(owner_pid,), daemon=True).start()


def _leave_with(owner_pid):
    """Ends the worker when the training process is gone (killed, or the worker adopted)."""
    while os.getppid() == owner_pid:
        time.sleep(_PARENT_CHECK_S)
    os._exit(0)


def _compute(number, task):
    """A worker's task: `_make_batch(task)`, with its number in the worker's slot while it runs."""
    _SLOTS[2 * _SLOT + 1] = number
    try:
        return _DATASET._make_batch(task)  # noqa: SLF001 - the pool's contract
    finally:
        _SLOTS[2 * _SLOT + 1] = 0
