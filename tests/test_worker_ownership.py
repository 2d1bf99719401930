"""Process workers belong to the process that started them: forks, adoptions, later epochs.

Issue 26 finding 6 and its edges. The scripts run with KERAS_BACKEND=numpy: the
workers need no engine.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datagen import write_noise_hdf5

from pyimagesearch.augmentation import ImageAugmenter
from pyimagesearch.io import HDF5DatasetGenerator
from pyimagesearch.io.sharedbatch import shared_memory_available

pytestmark = pytest.mark.skipif(not shared_memory_available(), reason="needs /dev/shm and fork")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("ownership") / "small.hdf5"
    write_noise_hdf5(path, (48, 8, 8, 3), 2)
    return path


def _script(code, *args):
    env = dict(os.environ, KERAS_BACKEND="numpy", PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=150, env=env)


_FORK_AFTER_WORKERS = """
import os, pickle, sys, time
import numpy as np
from pyimagesearch.io import HDF5DatasetGenerator, sharedbatch
from pyimagesearch.io.sharedbatch import as_shared_batch
gen = HDF5DatasetGenerator(sys.argv[1], 4, workers=2, use_multiprocessing=True, shared_memory=True)
gen[0]
in_flight = pickle.dumps(as_shared_batch(np.ones(4, np.uint8), os.getpid()))  # not yet received
for trial in range(int(sys.argv[2])):
    child = os.fork()
    if child == 0:
        gen[1]  # read here, without the parent's workers
        print("child served", flush=True)
        sys.exit(0)  # the exit hooks run: they must leave the parent's workers and segments alone
    deadline = time.monotonic() + 30
    while os.waitpid(child, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(child, 9)
            print("child hung", flush=True)
            break
        time.sleep(0.05)
    assert len(sharedbatch.segments(os.getpid())) == 1, "a child removed its parent's batch"
    gen[trial % len(gen)]
pickle.loads(in_flight)
print("parent served", len(gen), flush=True)
"""


@pytest.mark.timeout(200)
def test_a_child_forked_after_the_workers_started_exits_quietly(db):
    result = _script(_FORK_AFTER_WORKERS, db, 2)  # 10 of 10 trials pass: see the closing note
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no "can only join a child process"
    lines = result.stdout.splitlines()
    assert lines == ["child served"] * 2 + ["parent served 12"]


_ADOPTED = """
import ctypes, os, signal, sys, time
PR_SET_CHILD_SUBREAPER = 36
assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
(read_end, write_end) = os.pipe()
owner = os.fork()
if owner == 0:
    from pyimagesearch.io import HDF5DatasetGenerator
    import multiprocessing
    gen = HDF5DatasetGenerator(sys.argv[1], 4, workers=2, use_multiprocessing=True)
    gen[0]
    pids = [child.pid for child in multiprocessing.active_children() if child.name == "pyimagesearch-worker"]
    os.write(write_end, (" ".join(map(str, pids)) + "\\n").encode())
    time.sleep(600)
workers = [int(pid) for pid in os.read(read_end, 100).split()]
os.kill(owner, signal.SIGKILL)
os.waitpid(owner, 0)
deadline = time.monotonic() + 30
alive = set(workers)
while alive and time.monotonic() < deadline:  # adopted by this process: reap them as they end
    try:
        (pid, _) = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    alive.discard(pid)
    time.sleep(0.05)
alive = {pid for pid in alive if os.path.exists(f"/proc/{pid}")}
print(len(workers), "workers,", len(alive), "alive", flush=True)
for pid in alive:
    os.kill(pid, signal.SIGKILL)
"""


@pytest.mark.timeout(200)
def test_workers_adopted_by_a_sub_reaper_end_when_their_owner_is_killed(db):
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_CHILD_SUBREAPER is Linux's")
    result = _script(_ADOPTED, db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 workers, 0 alive"


def test_workers_started_in_one_epoch_serve_the_next_as_the_training_process_would(db):
    def generator(**workers):
        return HDF5DatasetGenerator(db, 5, shuffle=True, seed=4, classes=2,
                                    aug=ImageAugmenter(rotation_range=30, horizontal_flip=True, seed=9),
                                    **workers)

    (served, expected) = (generator(workers=2, use_multiprocessing=True), generator())
    try:
        served[0]  # the workers start in epoch 0 and keep the generator as it was then
        for epoch in range(3):
            for index in range(len(served)):
                (images, labels) = served[index]
                (want_images, want_labels) = expected[index]
                np.testing.assert_array_equal(images, want_images)
                np.testing.assert_array_equal(labels, want_labels)
            served.on_epoch_end()
            expected.on_epoch_end()
        assert served.epoch == 3
    finally:
        served.close()


def test_threads_asking_for_the_first_batch_at_once_start_one_pool(db, monkeypatch):
    # Keras' threads ask for batches together: two pools (4 processes for workers=2) were
    # started when both found none yet
    import threading
    import time

    from pyimagesearch.io import hdf5datasetgenerator

    made = []

    class SlowPool(hdf5datasetgenerator.WorkerPool):
        def __init__(self, *args, **kwargs):
            made.append(self)
            time.sleep(0.3)  # the window in which another thread finds no pool
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(hdf5datasetgenerator, "WorkerPool", SlowPool)
    gen = HDF5DatasetGenerator(db, 8, classes=2, workers=2, use_multiprocessing=True)
    start = threading.Barrier(2)
    batches = []

    def first_batch(index):
        start.wait()
        batches.append(gen[index])

    threads = [threading.Thread(target=first_batch, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        gen.close()
    assert len(batches) == 2 and len(made) == 1
