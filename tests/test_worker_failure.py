"""A dead worker, a killed training process, Ctrl-C and SIGTERM: the run stops, says so, leaves nothing.

Issue 21 items 7, 8 and 13, issue 22 item 9. The subprocess runs use
`tests/signal_training.py` (a short `fit` through shared-memory process
workers, inside the examples' `run_main`).
"""

import json
import multiprocessing
import os
import pickle
import random
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from datagen import SlowScale, write_noise_hdf5

from pyimagesearch.io import HDF5DatasetGenerator, sharedbatch
from pyimagesearch.io.sharedbatch import as_shared_batch, shared_memory_available

pytestmark = pytest.mark.skipif(not shared_memory_available(), reason="needs /dev/shm")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "signal_training.py"
WORKER = "pyimagesearch-worker"


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("workers") / "small.hdf5"
    write_noise_hdf5(path, (96, 8, 8, 3), 2)
    return path


def _workers():
    return [child for child in multiprocessing.active_children() if child.name == WORKER]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead
        return stat.read().split(") ")[1][0] != "Z"


@pytest.mark.timeout(240)
def test_a_killed_worker_stops_fit_within_seconds_naming_it_and_leaves_nothing(small_db):
    import keras

    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    rng = random.Random(7)
    delays = []
    for trial in range(3):
        gen = HDF5DatasetGenerator(small_db, 4, preprocessors=[SlowScale(0.03)], workers=2,
                                   use_multiprocessing=True, shared_memory=True)
        killed = {}
        before = {child.pid for child in multiprocessing.active_children()}
        segments_before = set(sharedbatch.segments(os.getpid()))  # other tests' open generators

        def kill_one():
            def workers():  # the processes this fit started, whoever's pool they are
                return [child for child in multiprocessing.active_children() if child.pid not in before]

            while len(workers()) < 2:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.2, 1.5))
            victim = rng.choice(workers())
            killed["pid"] = victim.pid
            killed["at"] = time.monotonic()
            os.kill(victim.pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_one)
        killer.start()
        with pytest.raises(Exception) as failure:  # noqa: PT011 - TensorFlow wraps the WorkerDied
            model.fit(gen, epochs=1000, verbose=0)
        delays.append(time.monotonic() - killed["at"])
        killer.join()
        message = re.search(r"worker process \d+ of HDF5DatasetGenerator\(.*?\) was killed by SIGKILL "
                            r"(while computing|before it received) batch \d+ \(rows \d+:\d+\); training stopped\.",
                            str(failure.value))
        assert message, str(failure.value)
        assert f"worker process {killed['pid']} " in message.group(0)
        assert [child for child in _workers() if child.pid not in before] == []  # the other was stopped
        assert set(sharedbatch.segments(os.getpid())) <= segments_before  # the dead worker's and the others'
        gen.close()
    print(f"seconds from a worker's death to the error: {', '.join(f'{d:.2f}' for d in delays)}")
    assert max(delays) < 30  # generous on a loaded machine: this catches a hang, it does not time anything


def _owner(db_path, connection):
    """A training process's stand-in: serves batches through its workers until it is killed."""
    gen = HDF5DatasetGenerator(db_path, 4, preprocessors=[SlowScale(0.03)], workers=2,
                               use_multiprocessing=True, shared_memory=True)
    gen[0]
    pickle.dumps(as_shared_batch(np.ones(8, np.uint8), os.getpid()))  # a batch never received
    connection.send([child.pid for child in _workers()])
    while True:
        for index in range(len(gen)):
            gen[index]


@pytest.mark.timeout(120)
def test_workers_and_segments_do_not_outlive_a_killed_training_process(small_db):
    mine = pickle.dumps(as_shared_batch(np.ones(4, np.uint8), os.getpid()))  # a live process's segment
    (here, there) = multiprocessing.get_context("fork").Pipe()
    owner = multiprocessing.get_context("fork").Process(target=_owner, args=(small_db, there))
    owner.start()
    workers = here.recv()
    time.sleep(0.3)
    assert len(workers) == 2 and sharedbatch.segments(owner.pid)
    os.kill(owner.pid, signal.SIGKILL)
    owner.join()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    # the next shared-memory generator removes the dead owner's segments, not a live process's,
    # when it is first asked for batches: creating it is a pure read
    gen = HDF5DatasetGenerator(small_db, 4, workers=2, use_multiprocessing=True, shared_memory=True)
    assert sharedbatch.segments(owner.pid) != []
    gen[0]
    gen.close()
    assert sharedbatch.segments(owner.pid) == []
    assert len(sharedbatch.segments(os.getpid())) == 1
    pickle.loads(mine)
    assert sharedbatch.segments(os.getpid()) == []


def _interrupt_training(tmp_path, signum, backend, rng):
    """Runs signal_training.py, sends `signum` at a random point after its first epoch, returns what it left."""
    out = tmp_path / f"{signal.Signals(signum).name}-{backend}-{len(list(tmp_path.iterdir()))}"
    out.mkdir()
    environment = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3",
                       CUDA_VISIBLE_DEVICES="", MPLBACKEND="Agg")
    child = subprocess.Popen([sys.executable, str(SCRIPT), str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=environment, cwd=ROOT)
    first = child.stdout.readline()
    assert first.startswith("epoch 1 "), first + child.stderr.read()
    workers = [int(pid) for pid in first.split()[2:]]
    time.sleep(rng.uniform(0.0, 1.5))
    sent = time.monotonic()
    child.send_signal(signum)
    (stdout, stderr) = child.communicate(timeout=60)
    return {"out": out, "status": child.returncode, "signal": int(signum), "stderr": stderr,
            "seconds": time.monotonic() - sent,
            "epochs": (first + stdout).split("\n")[-2].split()[1], "workers": workers, "pid": child.pid}


@pytest.mark.timeout(300)
def test_sigterm_and_ctrl_c_stop_training_with_one_line_and_status_143_or_130_leaving_the_last_epoch(tmp_path):
    rng = random.Random()
    # SIGTERM as a cluster scheduler sends it; Ctrl-C under JAX, where an interrupt can land in a
    # garbage-collection callback and be dropped
    runs = [_interrupt_training(tmp_path, signal.SIGTERM, "tensorflow", rng),
            _interrupt_training(tmp_path, signal.SIGINT, "jax", rng)]
    print("seconds from the signal to the exit:", ", ".join(f"{run['seconds']:.1f}" for run in runs))
    for run in runs:
        assert run["status"] == 128 + run["signal"], run["stderr"]
        assert run["stderr"].splitlines() == ["[INFO] interrupted"]
        assert run["seconds"] < 30  # a hang, not a speed target
        leftovers = [path for path in run["out"].rglob("*") if ".tmp" in path.name]
        assert leftovers == []
        history = json.loads((run["out"] / "history.json").read_text())
        checkpoints = sorted(int(path.stem.split("_")[1]) for path in (run["out"] / "checkpoints").glob("*.keras"))
        # the history and the last checkpoint are those of the last complete epoch (SIGTERM
        # after an epoch's last batch: that epoch, saved before the stop)
        assert len(history["loss"]) == checkpoints[-1] >= int(run["epochs"])
        assert zipfile.is_zipfile(run["out"] / "checkpoints" / f"epoch_{checkpoints[-1]}.keras")
        assert not any(_alive(pid) for pid in run["workers"])
        assert sharedbatch.segments(run["pid"]) == []


_EXIT_WITH_OPEN_POOL = """
import sys, tempfile
keep = tempfile.TemporaryDirectory()  # a weakref.finalize made before multiprocessing is imported
from pyimagesearch.io import HDF5DatasetGenerator
gen = HDF5DatasetGenerator(sys.argv[1], 4, workers=2, use_multiprocessing=True)
gen[0]
print("served", flush=True)
"""


@pytest.mark.timeout(120)
def test_a_script_that_ends_with_its_workers_running_exits(small_db):
    # multiprocessing's exit hook SIGTERMs then joins daemon children; the workers ignore
    # SIGTERM, so the pools must be closed before that hook runs, or the exit waits forever
    env = dict(os.environ, KERAS_BACKEND="numpy")
    result = subprocess.run([sys.executable, "-c", _EXIT_WITH_OPEN_POOL, str(small_db)], env=env,
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0 and result.stdout == "served\n", result.stderr
