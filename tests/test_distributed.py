"""Multi-process training (`--strategy multiworker`): two JAX processes on this CPU.

Every run is tests/distributed_worker.py: MiniVGGNet on an HDF5 file whose
images carry their row number, through `HDF5DatasetGenerator.shard` with
augmentation, processes meeting at a localhost coordinator on a free port and
averaging gradients over gloo. Cheap checks of the cluster arguments run in
this process.
"""

import argparse
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pyimagesearch.distribute import Cluster, Distribution, cluster_from, configure
from pyimagesearch.io import HDF5DatasetWriter

needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                               reason="multi-process training runs on JAX, which is not installed")

WORKER = Path(__file__).with_name("distributed_worker.py")
ROOT = Path(__file__).resolve().parents[1]
RUN_LIMIT = 600  # seconds a whole multi-process run may take on a loaded CI machine
HEARTBEAT = 5  # --heartbeat-timeout of the dead-peer test
# a survivor stops within the heartbeat timeout; JAX checks heartbeats on a period of
# its own and the process then has to unwind, hence the margin
DEAD_PEER_LIMIT = HEARTBEAT + 25
CHIEF_OUTPUTS = {"epoch_1.keras", "epoch_2.keras", "history.json", "history.png", "model.keras"}


def write_rows(path, rows):
    """An HDF5 file of `rows` random 16x16 images, row number in pixel (0, 0, 0)."""
    images = np.random.default_rng(0).integers(0, 256, size=(rows, 16, 16, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(rows)
    with HDF5DatasetWriter((rows, 16, 16, 3), path) as writer:
        writer.add(images, np.arange(rows) % 3)
    return path


def free_port():
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def environment():
    return dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
                MPLBACKEND="Agg", PYTHONPATH=str(ROOT))


def start(args, **variables):
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)],
                            env=dict(environment(), **variables),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_processes(db, root, count=2, extra=(), heartbeat=30):
    port = free_port()
    return [start(["--db", db, "--output", root / f"out{p}", "--trace", root / "trace",
                   "--strategy", "multiworker", "--coordinator", f"localhost:{port}",
                   "--num-processes", count, "--process-id", p,
                   "--heartbeat-timeout", heartbeat, *extra])
            for p in range(count)]


def finish(processes, timeout=RUN_LIMIT):
    """Waits for every process; kills them all if one overruns. Returns their outputs."""
    deadline = time.monotonic() + timeout
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=max(1, deadline - time.monotonic())))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return outputs


def assert_finished(processes, outputs):
    for (p, (process, (stdout, stderr))) in enumerate(zip(processes, outputs)):
        assert process.returncode == 0, f"process {p} failed:\n{stdout}\n{stderr[-4000:]}"
        assert f"[INFO] process {p} done" in stdout


def trace(root, p=0):
    return json.loads((root / "trace" / f"trace_{p}.json").read_text())


def weights(root, p=0):
    return np.load(root / "trace" / f"weights_{p}.npy")


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """Two processes, 2 epochs, 64 rows, global batch 16; and two one-process references.

    The references train on the same global batches: `ref` on one device
    (batch 16), `devices` on two CPU devices of one process (`--strategy
    mirrored`, batch 8 per device).
    """
    root = tmp_path_factory.mktemp("multiworker")
    db = write_rows(root / "rows.hdf5", 64)
    processes = start_processes(db, root)
    references = [
        start(["--db", db, "--output", root / "ref" / "out", "--trace", root / "ref" / "trace",
               "--reference", 2, "--batch-size", 16]),
        start(["--db", db, "--output", root / "devices" / "out", "--trace",
               root / "devices" / "trace", "--reference", 2, "--strategy", "mirrored"],
              XLA_FLAGS="--xla_force_host_platform_device_count=2"),
    ]
    outputs = finish(processes + references)
    assert_finished(processes, outputs[:2])
    for (reference, (_, stderr)) in zip(references, outputs[2:]):
        assert reference.returncode == 0, stderr[-4000:]
    return root, outputs


@needs_jax
@pytest.mark.timeout(RUN_LIMIT + 60)
def test_two_processes_end_with_identical_weights(two_processes):
    (root, outputs) = two_processes
    np.testing.assert_array_equal(weights(root, 0), weights(root, 1))
    assert trace(root, 0)["loss"] == trace(root, 1)["loss"]
    assert "strategy: multiworker, 2 replica(s) in 2 processes, global batch size 16" in outputs[0][0]


@needs_jax
@pytest.mark.timeout(RUN_LIMIT + 60)
def test_every_row_once_per_epoch_across_processes(two_processes):
    (root, _) = two_processes
    (first, second) = (trace(root, 0)["rows"], trace(root, 1)["rows"])
    assert len(first) == len(second) == 2
    for epoch in range(2):
        # per-process batch 8: each process reads half of every global batch
        assert len(first[epoch]) == len(second[epoch]) == 32
        assert sorted(first[epoch] + second[epoch]) == list(range(64))
    # the seeded batch order changes from epoch to epoch
    assert first[0] != first[1]


@needs_jax
@pytest.mark.timeout(RUN_LIMIT + 60)
def test_only_process_zero_writes(two_processes):
    (root, _) = two_processes
    assert {path.name for path in (root / "out0").iterdir()} == CHIEF_OUTPUTS
    assert not (root / "out1").exists()
    history = json.loads((root / "out0" / "history.json").read_text())
    assert history["loss"] == pytest.approx(trace(root, 0)["loss"])


def reference_trace(root, name="ref"):
    return json.loads((root / name / "trace" / "trace_0.json").read_text())


# The references train in one process on batches of 16: process 0's 8 rows and
# process 1's 8 rows side by side, augmented alike, the same initial weights and
# dropout seed. On two devices (one process) the computation is the two processes'
# own, so weights and losses agree to the bit over both epochs. On one device the
# batch's gradients and BatchNormalization statistics are summed in another order:
# weights differ by float rounding (1e-7 to 4e-6 relative) after the first step, and
# this MiniVGGNet run (lr 0.01, momentum 0.9, pixels 0-255) amplifies any such
# difference several-fold a step: one ulp added to each weight of the first kernel
# moves the one-device run's second-epoch loss from 1.624 to 1.685. Only the first
# epoch's mean loss (4 steps) stays within LOSS_TOLERANCE of the one-device run
# (1e-5 here).
LOSS_TOLERANCE = 1e-4


@needs_jax
@pytest.mark.timeout(RUN_LIMIT + 60)
def test_two_processes_train_exactly_as_one_process_on_two_devices(two_processes):
    (root, outputs) = two_processes
    assert "strategy: mirrored, 2 replica(s), global batch size 16" in outputs[3][0]
    np.testing.assert_array_equal(weights(root, 0),
                                  np.load(root / "devices" / "trace" / "weights_0.npy"))
    assert trace(root, 0)["loss"] == reference_trace(root, "devices")["loss"]


@needs_jax
@pytest.mark.timeout(RUN_LIMIT + 60)
def test_first_epoch_loss_equals_one_process_on_the_same_global_batches(two_processes):
    (root, _) = two_processes
    assert trace(root, 0)["loss"][0] == pytest.approx(reference_trace(root)["loss"][0],
                                                      rel=LOSS_TOLERANCE)


@needs_jax
@pytest.mark.timeout(2 * RUN_LIMIT + 60)
def test_resume_from_the_chief_checkpoint_with_uneven_shares(two_processes, tmp_path):
    # process 0's folder after the two-process run, its last epoch removed: the
    # state after a stop at epoch 1 (the "ctrl + c" method)
    (root, _) = two_processes
    shutil.copytree(root / "out0", tmp_path / "out0")
    for name in ("epoch_2.keras", "model.keras"):
        (tmp_path / "out0" / name).unlink()
    first_loss = json.loads((root / "out0" / "history.json").read_text())["loss"][0]
    # both processes restart from process 0's checkpoint and train epoch 2 on 37
    # rows, global batch 16: 2 full batches and 5 rows, 2 each, 1 dropped
    db = write_rows(tmp_path / "rows.hdf5", 37)
    processes = start_processes(db, tmp_path, extra=["--epochs", 2, "--start-epoch", 1,
                                                     "--model", tmp_path / "out0" / "epoch_1.keras"])
    assert_finished(processes, finish(processes))
    np.testing.assert_array_equal(weights(tmp_path, 0), weights(tmp_path, 1))
    (mine, theirs) = (trace(tmp_path, 0)["rows"], trace(tmp_path, 1)["rows"])
    assert len(mine) == len(theirs) == 1 and len(mine[0]) == len(theirs[0]) == 18
    assert sorted(mine[0] + theirs[0]) == list(range(36))
    assert {path.name for path in (tmp_path / "out0").iterdir()} == CHIEF_OUTPUTS
    assert not (tmp_path / "out1").exists()
    history = json.loads((tmp_path / "out0" / "history.json").read_text())
    assert history["loss"] == pytest.approx([first_loss] + trace(tmp_path, 0)["loss"])


@needs_jax
@pytest.mark.timeout(RUN_LIMIT + 60)
def test_a_dead_process_stops_the_other(tmp_path):
    db = write_rows(tmp_path / "rows.hdf5", 64)
    processes = start_processes(db, tmp_path, extra=["--epochs", 100000], heartbeat=HEARTBEAT)
    try:
        # wait until training runs: process 0 checkpoints every epoch
        deadline = time.monotonic() + RUN_LIMIT
        while not (tmp_path / "out0" / "epoch_1.keras").exists():
            assert time.monotonic() < deadline, "training never reached epoch 1"
            assert all(p.poll() is None for p in processes), finish(processes)
            time.sleep(0.5)
        processes[1].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        (stdout, stderr) = finish(processes[:1], timeout=DEAD_PEER_LIMIT)[0]
        elapsed = time.monotonic() - killed
    finally:
        finish(processes, timeout=1)
    assert processes[0].returncode not in (0, None)
    assert elapsed < DEAD_PEER_LIMIT
    assert "JAX distributed service detected fatal errors" in stderr or "Gloo" in stderr


# ---------------------------------------------------------------- cluster arguments

def args(**values):
    defaults = dict(coordinator=None, num_processes=None, process_id=None, heartbeat_timeout=60,
                    strategy="multiworker", mixed_precision=False, batch_size=8)
    return argparse.Namespace(**{**defaults, **values})


def test_cluster_from_arguments_then_keras_then_slurm_variables():
    assert cluster_from(args(coordinator="10.0.0.1:1234", num_processes=4, process_id=3),
                        environ={}) == Cluster("10.0.0.1:1234", 4, 3, 60)
    keras_env = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234,10.0.0.2:2345",
                 "KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "1",
                 "SLURM_NTASKS": "8", "SLURM_PROCID": "5"}
    assert cluster_from(args(), environ=keras_env) == Cluster("10.0.0.1:1234", 2, 1, 60)
    slurm_env = {"SLURM_NTASKS": "8", "SLURM_PROCID": "5"}
    assert cluster_from(args(coordinator="node1:5000"), environ=slurm_env) == \
        Cluster("node1:5000", 8, 5, 60)
    # an argument wins over the environment
    assert cluster_from(args(coordinator="h:1", process_id=0), environ=slurm_env).process_id == 0


@pytest.mark.parametrize("values, environ, message", [
    ({}, {}, "needs --coordinator HOST:PORT"),
    ({"coordinator": "nohost"}, {}, "--coordinator must be HOST:PORT, got 'nohost'"),
    ({"coordinator": "h:99999"}, {}, "--coordinator must be HOST:PORT"),
    ({"coordinator": "h:1"}, {}, "needs --num-processes or KERAS_DISTRIBUTION_NUM_PROCESSES or SLURM_NTASKS"),
    ({"coordinator": "h:1", "num_processes": 2}, {}, "needs --process-id"),
    ({"coordinator": "h:1", "num_processes": 2, "process_id": 2}, {}, "--process-id must be in \\[0, 2\\), got 2"),
    ({"coordinator": "h:1", "num_processes": 0, "process_id": 0}, {}, "--num-processes must be at least 1"),
    ({"coordinator": "h:1"}, {"SLURM_NTASKS": "two"}, "SLURM_NTASKS must be an integer, got 'two'"),
    ({"coordinator": "h:1", "num_processes": 2, "process_id": 0, "heartbeat_timeout": 0}, {},
     "--heartbeat-timeout must be a positive integer"),
])
def test_bad_cluster_is_one_clear_error(values, environ, message):
    with pytest.raises(ValueError, match=message):
        cluster_from(args(**values), environ=environ)


def test_multiworker_on_tensorflow_says_use_jax():
    # the suite runs on the TensorFlow backend (conftest.py)
    with pytest.raises(ValueError, match="needs KERAS_BACKEND=jax .*keras-team/keras/issues/20585"):
        configure(args(coordinator="localhost:1", num_processes=2, process_id=0))


def test_the_module_imports_no_engine():
    # TensorFlow or JAX is imported only when configure() is asked for a strategy
    code = ("import sys, pyimagesearch.distribute; "
            "print(sorted(m for m in ('jax', 'tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], env=environment(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def process(process_id, num_processes=2):
    return Distribution(strategy=None, replicas=num_processes, batch_size=16,
                        mixed_precision=False, process_id=process_id,
                        num_processes=num_processes)


def test_array_shares_are_equal_and_disjoint():
    x = np.arange(11)
    shares = [process(p).shard_arrays(x, x * 10) for p in range(2)]
    # 11 rows: 5 each, the last row dropped
    assert [share[0].tolist() for share in shares] == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]
    np.testing.assert_array_equal(shares[1][1], shares[1][0] * 10)
    assert process(0, 1).shard_arrays(x)[0] is x
    assert process(1).process_batch_size == 8
    with pytest.raises(ValueError, match="same number of rows"):
        process(0).shard_arrays(x, x[:5])
    with pytest.raises(ValueError, match="1 rows are fewer than the 2 processes"):
        process(0).shard_arrays(x[:1])


def test_local_seeds_differ_per_process_and_keep_the_single_process_seed():
    assert process(0, 1).local_seed(42) == 42 and process(1).local_seed(None) is None
    seeds = [process(p).local_seed(42) for p in range(2)]
    assert seeds[0] != seeds[1] and seeds == [process(p).local_seed(42) for p in range(2)]


def test_other_processes_write_nothing(tmp_path):
    class Model:
        def save(self, path):
            raise AssertionError("process 1 saved")

    worker = process(1)
    assert not worker.is_chief and worker.chief_only([object()]) == []
    assert worker.save(Model(), tmp_path / "model.keras") is False
    chief = process(0, 1)
    callbacks = [object()]
    assert chief.is_chief and chief.chief_only(callbacks) == callbacks
