"""The cluster across hosts: Linux network namespaces on this machine (tests/netns.py).

Every other multi-process test runs its processes on `localhost`. Here each
process runs in a host of its own (a network namespace with its own address,
name and hosts file, joined to the others by a switch), so the coordinator is
reached by name over a real interface, and a host can drop off the network
without its processes dying: its cable pulled (`partition`) or the host gone
(`vanish`). Needs root and iproute2: elsewhere the tests are skipped with the
reason.

One fixture runs every cluster at once (their waits overlap) and the tests
read what it saw. The runs, all tests/distributed_worker.py (ShallowNet, 256
rows, global batch 16, 16 steps an epoch) on one HDF5 file:

- `A` (node0, node1), started as `srun` starts them (`SLURM_PROCID`,
  `SLURM_NTASKS`, `SLURM_STEP_NODELIST=node[0-1]`, `SLURM_JOB_ID`: the
  coordinator is node0 at the job's port; no cluster switches), 3 epochs; node1's cable is pulled for 2 s in epoch 2, and a
  duplicated process 1 knocks at its lobby;
- `L`, the same run with both processes on `localhost` (this machine's own
  network), the reference;
- `P` (node3, node4), node4's cable pulled in epoch 2; then `R`, each host
  running the command its own line printed, until node4 vanishes (its
  process killed and its cable removed at once) an epoch later;
- `S` (node2, node5), node5's cable pulled once the lobby has gathered, while
  JAX starts;
- start-up mistakes on node2: an unknown host, nobody at the coordinator.
"""

import importlib.util
import io
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import netns
from datagen import write_rows

WORKER = Path(__file__).with_name("distributed_worker.py")
ROOT = Path(__file__).resolve().parents[1]
PORT = 29500  # the coordinator's port on every host (each host has its own ports)
SLURM_JOB = 4029500  # run A's job id: its coordinator's port is 61440 + 4029500 % 4000
A_PORT = 61440 + SLURM_JOB % 4000
ROWS = 256
EPOCHS = 3  # of the uninterrupted runs
HEARTBEAT = 6  # --heartbeat-timeout of the runs that lose a host
STEADY_HEARTBEAT = 30  # of the runs that must not fail while the machine is loaded
FLAP = 2  # seconds node1's cable is out in run A
# a process ends its line within the heartbeat timeout; the watch waits up to 3 s more
# for the training step to fail on its own, and a loaded machine is slow to exit
LOST_LIMIT = HEARTBEAT + 20
RUN_LIMIT = 600  # the whole fixture, on a loaded machine: only a hang misses it
NOISE = ("Traceback", "Check failure", "Terminating process", "Fatal Python error",
         "stack trace")
ABSL_ERROR = re.compile(r"^[EF]\d{4} ")  # a C++ error or fatal log line

needs_hosts = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                 reason="multi-process training runs on JAX, which is not "
                                        "installed")


def environment(**variables):
    return dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
                MPLBACKEND="Agg", PYTHONPATH=str(ROOT), **variables)


class Process:
    """One process of a run: its lines (with the time each came) and when it ended."""

    def __init__(self, argv, host=None, env=None):
        command = argv if host is None else host.command(argv)
        self.popen = subprocess.Popen(command, env=env or environment(),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, errors="replace")
        self.lines = []
        self.ended = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.popen.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def poll(self):
        if self.ended is None and self.popen.poll() is not None:
            self.ended = time.monotonic()
        return self.ended is not None

    @property
    def status(self):
        return self.popen.returncode

    def text(self):
        self.reader.join(timeout=10)
        return "\n".join(line for (_, line) in self.lines)

    def errors(self):
        self.reader.join(timeout=10)
        return [line for (_, line) in self.lines if "[ERROR]" in line]

    def noise(self):
        return [line for (_, line) in self.lines
                if any(word in line for word in NOISE) or ABSL_ERROR.match(line)]

    def stop(self):
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


def worker(*args):
    return [sys.executable, str(WORKER), *map(str, args)]


def printed_command(line):
    """The command after `with: ` in a process's closing line, runnable here."""
    words = shlex.split(line.split(" with: ", 1)[1])
    words = words[:next((i for (i, w) in enumerate(words) if w.startswith("(")), len(words))]
    assert words[0] == "python", line
    return [sys.executable, *words[1:]]


def lobby_joined(process, port):
    """Whether `process` holds a connection to a lobby at `port` (its own network's table)."""
    try:
        with open(f"/proc/{process.popen.pid}/net/tcp") as table:
            rows = table.read().splitlines()[1:]
    except OSError:
        return False
    return any(row.split()[2].endswith(f":{port:04X}") and row.split()[3] == "01" for row in rows)


def checkpoint_weights(path):
    """The arrays of a `.keras` checkpoint (weights and optimizer), by name."""
    import h5py

    arrays = {}
    with zipfile.ZipFile(path) as archive:
        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
            weights.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                               if isinstance(item, h5py.Dataset) else None)
    return arrays


def leftovers(folder):
    """Held locks and temporary files in `folder` (their names start with a dot).

    The folder's lock file stays after its release, by design (pyimagesearch.infra.locks):
    it counts only while a process still holds it.
    """
    import filelock

    from pyimagesearch.infra.locks import LOCK

    names = sorted(name for name in os.listdir(folder) if name.startswith("."))
    if LOCK in names:
        try:
            with filelock.FileLock(os.path.join(folder, LOCK), timeout=0):
                names.remove(LOCK)
        except filelock.Timeout:
            pass
    return names


@pytest.fixture(scope="module")
def hosts():
    """Six hosts node0..node5 on one switch; skipped where they cannot be made."""
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(f"two hosts need network namespaces: {reason}")
    netns.sweep()
    made = netns.Hosts(6)
    yield made
    made.close()


@pytest.fixture(scope="module")
def runs(hosts, tmp_path_factory):
    """Runs the clusters of the module's docstring; returns what they printed and left."""
    root = tmp_path_factory.mktemp("two_hosts")
    db = write_rows(root / "rows.hdf5", ROWS)
    common = ["--db", db, "--epochs", EPOCHS, "--seed", 3, "--network", "shallownet"]
    began = time.monotonic()
    seen = {"began": began}
    procs = {}

    def cluster(name, first, second, heartbeat=HEARTBEAT, epochs=EPOCHS, extra=()):
        coordinator = f"{hosts[first].name}:{PORT}"
        for (p, host) in enumerate((first, second)):
            procs[f"{name}{p}"] = Process(worker(
                *common, "--output", root / name / "out", "--trace", root / name / "trace",
                "--epochs", epochs, "--strategy", "multiworker", "--coordinator", coordinator,
                "--num-processes", 2, "--process-id", p, "--heartbeat-timeout", heartbeat,
                *extra), hosts[host])

    def a_args(name):
        return [*common, "--output", root / name / "out", "--trace", root / name / "trace",
                "--strategy", "multiworker", "--heartbeat-timeout", STEADY_HEARTBEAT]

    slurm = dict(SLURM_NTASKS="2", SLURM_STEP_NODELIST="node[0-1]", SLURM_JOB_ID=str(SLURM_JOB))
    assert [host.name for host in hosts][:2] == ["node0", "node1"]
    for p in range(2):  # as srun starts them: no cluster switch
        procs[f"A{p}"] = Process(worker(*a_args("A")), hosts[p], environment(SLURM_PROCID=str(p), **slurm))
    from pyimagesearch.distribute.launcher import free_port_pair

    local = f"localhost:{free_port_pair()}"
    for p in range(2):
        procs[f"L{p}"] = Process(worker(*a_args("L"), "--coordinator", local,
                                        "--num-processes", 2, "--process-id", p))
    cluster("P", 3, 4, epochs=50)
    cluster("S", 2, 5, extra=["--startup-timeout", 30])
    mistakes = ["--output", root / "mistake" / "out", "--trace", root / "mistake" / "trace",
                "--strategy", "multiworker", "--num-processes", 2, "--process-id", 1,
                "--startup-timeout", 3]
    procs["unknown host"] = Process(worker(*common, *mistakes, "--coordinator",
                                           f"node9:{PORT}"), hosts[2])
    procs["nobody there"] = Process(worker(*common, *mistakes, "--coordinator",
                                           f"{hosts[1].name}:{PORT + 100}"), hosts[2])
    # a process 0 started on another host than its coordinator's
    procs["process 0 elsewhere"] = Process(worker(*common, *mistakes[:-4], "--process-id", 0,
                                                  "--startup-timeout", 3, "--coordinator",
                                                  f"{hosts[1].name}:{PORT + 200}"), hosts[2])

    def flap():
        hosts.partition(1)
        seen["flap"] = time.monotonic()
        time.sleep(FLAP)
        seen["down during flap"] = "state DOWN" in subprocess.run(
            ["ip", "-n", hosts.switch, "link", "show", hosts[1].port],
            capture_output=True, text=True).stdout
        hosts.reconnect(1)
        seen["reconnected"] = time.time()

    flapper = threading.Thread(target=flap, daemon=True)
    try:
        # every one polled; P's resume `R` starts once both of P have ended (they may be last)
        while not all([proc.poll() for proc in procs.values()]) or "R0" not in procs:
            assert time.monotonic() - began < RUN_LIMIT, "the clusters did not end in time"
            now = time.monotonic()
            if "A epoch 1" not in seen and (root / "A" / "out" / "epoch_1.keras").exists():
                seen["A epoch 1"] = now
                flapper.start()
            if "duplicate" not in procs and lobby_joined(procs["A1"], A_PORT + 1):
                # once the pair has met, a second process 1 knocks at its lobby from another
                # host (while the pair starts JAX and trains)
                procs["duplicate"] = Process(worker(*a_args("A")), hosts[2], environment(
                    SLURM_PROCID="1", **slurm))
            if "P epoch 1" not in seen and (root / "P" / "out" / "epoch_1.keras").exists():
                seen["P epoch 1"] = now
            if "P cut" not in seen and "P epoch 1" in seen and now > seen["P epoch 1"] + 0.5:
                hosts.partition(4)  # in epoch 2
                seen["P cut"] = time.monotonic()
            if "S cut" not in seen and lobby_joined(procs["S1"], PORT + 1):
                time.sleep(0.2)  # the lobby's go, then JAX's start
                hosts.partition(5)
                seen["S cut"] = time.monotonic()
            if "R0" not in procs and procs["P0"].poll() and procs["P1"].poll():
                assert "P cut" in seen, "run P ended before its cut:\n" + procs["P0"].text()[-3000:]
                hosts.reconnect(4)
                seen["P lines"] = [procs[f"P{p}"].errors() for p in range(2)]
                for p in range(2):  # each host runs the command its own line printed
                    assert len(seen["P lines"][p]) == 1, procs[f"P{p}"].text()[-3000:]
                    line = seen["P lines"][p][0]
                    procs[f"R{p}"] = Process(printed_command(line), hosts[3 + p])
                seen["R from"] = netns_latest(root / "P" / "out")
            if "R0" in procs and "vanish" not in seen:
                if (root / "P" / "out" / f"epoch_{seen['R from'] + 1}.keras").exists():
                    time.sleep(0.3)  # in the next epoch
                    hosts.vanish(4)
                    seen["vanish"] = time.monotonic()
            time.sleep(0.05)
    finally:
        for proc in procs.values():
            proc.stop()
        flapper.join(timeout=FLAP + 10) if flapper.is_alive() else None
    seen["seconds"] = time.monotonic() - began
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    seen["cpu"] = usage.ru_utime + usage.ru_stime
    events = {name: round(at - began, 1) for (name, at) in seen.items()
              if isinstance(at, float) and at > began and at < began + RUN_LIMIT}
    ends = {name: round(proc.ended - began, 1) for (name, proc) in procs.items()}
    print(f"[two hosts] every cluster ended after {seen['seconds']:.0f} s ({seen['cpu']:.0f} "
          f"CPU-s in this process's children): {events}, ends {ends}")
    return root, procs, seen


def netns_latest(folder):
    from pyimagesearch.utils.checkpoints import latest_checkpoint

    found = latest_checkpoint(folder)
    return 0 if found is None else found[1]


def trained_weights(root, name, p):
    return np.load(root / name / "trace" / f"weights_{p}.npy")


def assert_clean_end(proc, name):
    assert proc.status == 0, f"{name} failed:\n{proc.text()[-4000:]}"
    assert proc.errors() == [] and proc.noise() == [], proc.text()[-4000:]


@needs_hosts
@pytest.mark.timeout(RUN_LIMIT + 120)
def test_two_hosts_train_to_the_weights_of_localhost_bit_for_bit(runs):
    (root, procs, _) = runs
    for name in ("A0", "A1", "L0", "L1"):
        assert_clean_end(procs[name], name)
    across = trained_weights(root, "A", 0)
    np.testing.assert_array_equal(across, trained_weights(root, "A", 1))
    np.testing.assert_array_equal(across, trained_weights(root, "L", 0))
    np.testing.assert_array_equal(across, trained_weights(root, "L", 1))


@needs_hosts
@pytest.mark.timeout(RUN_LIMIT + 120)
def test_two_hosts_meet_from_the_slurm_variables_without_the_cluster_switches(runs):
    (_, procs, _) = runs
    assert "strategy: multiworker, 2 replica(s) in 2 processes" in procs["A0"].text()
    assert "[INFO] process 1 done" in procs["A1"].text()


@needs_hosts
@pytest.mark.timeout(RUN_LIMIT + 120)
def test_two_hosts_a_cable_back_within_the_timeout_lets_the_run_go_on(runs):
    (root, procs, seen) = runs
    assert seen["down during flap"]
    assert_clean_end(procs["A0"], "A0")
    # epoch 2 was under way when the cable went out, and ended after it came back
    assert seen["flap"] - seen["A epoch 1"] < 1
    for epoch in (2, 3):
        assert (root / "A" / "out" / f"epoch_{epoch}.keras").stat().st_mtime > seen["reconnected"]
    assert leftovers(root / "A" / "out") == []


@needs_hosts
@pytest.mark.timeout(RUN_LIMIT + 120)
def test_two_hosts_start_up_mistakes_end_in_one_line(runs):
    (_, procs, _) = runs
    expected = {
        "unknown host": "cannot resolve host 'node9'",
        "nobody there": f"process 0 at node1:{PORT + 100} did not gather the run within 3 s",
        "duplicate": "process id 1 is duplicated",
    }
    for (name, message) in expected.items():
        proc = procs[name]
        assert proc.status == 2, (name, proc.text()[-3000:])
        (line,) = proc.errors()
        assert line.startswith("[ERROR] process 1: ") and message in line, (name, line)
        assert proc.noise() == [], (name, proc.text()[-3000:])
    # process 0 away from its coordinator says so before it waits (then times out as alone)
    elsewhere = procs["process 0 elsewhere"]
    assert elsewhere.status == 2, elsewhere.text()[-3000:]
    # (the namespaces share the machine's host name: the line names it, not node2)
    assert re.search(rf"^\[WARNING\] process 0: the coordinator node1:{PORT + 200} is not an address of "
                     r"this host \(.+\); the other processes look for process 0 there: start process 0 "
                     r"on node1, or give --coordinator this host's address$", elsewhere.text(), re.M), \
        elsewhere.text()[-3000:]
    assert elsewhere.noise() == [], elsewhere.text()[-3000:]
    # the running pair, still running, did not notice the duplicate
    assert procs["duplicate"].ended < procs["A0"].ended
    assert procs["A0"].status == 0 and procs["A1"].status == 0


def assert_lost(proc, p, other, cut, checkpoint=None):
    """`proc` (process `p`) ended in one line naming process `other`, within the timeout."""
    text = proc.text()
    assert proc.status == 1, text[-4000:]
    (line,) = proc.errors()
    assert line.startswith(f"[ERROR] process {p}: process {other} of 2 failed"), line
    assert f"silent for {HEARTBEAT} s" in line
    assert proc.noise() == [], text[-4000:]
    # not before the heartbeat timeout (no false alarm), and no hang after it
    assert HEARTBEAT - 1 < proc.ended - cut < LOST_LIMIT, proc.ended - cut
    if checkpoint is not None:
        assert f"last checkpoint: epoch {checkpoint[1]} ({checkpoint[0]})" in line
        assert f"--process-id {p} " in line and "--resume auto" in line
    return line


@needs_hosts
@pytest.mark.timeout(RUN_LIMIT + 120)
def test_two_hosts_a_partition_mid_epoch_is_one_line_on_every_process(runs):
    (root, procs, seen) = runs
    out = root / "P" / "out"
    epoch = seen["R from"]
    assert epoch in (1, 2), "the cable was pulled after epoch 2"
    for p in range(2):
        assert_lost(procs[f"P{p}"], p, 1 - p, seen["P cut"], (str(out / f"epoch_{epoch}.keras"),
                                                              epoch))


@needs_hosts
@pytest.mark.timeout(RUN_LIMIT + 120)
def test_two_hosts_resume_from_the_printed_commands_continues_the_run(runs):
    (root, procs, seen) = runs
    epoch = seen["R from"] + 1
    for p in range(2):
        assert f"[INFO] process {p} resumes at epoch {epoch - 1}" in procs[f"R{p}"].text()
    # the epoch trained after the partition is the uninterrupted run's, to the bit
    resumed = checkpoint_weights(root / "P" / "out" / f"epoch_{epoch}.keras")
    whole = checkpoint_weights(root / "A" / "out" / f"epoch_{epoch}.keras")
    assert resumed.keys() == whole.keys() and len(whole) >= 4
    for name in whole:
        np.testing.assert_array_equal(resumed[name], whole[name], err_msg=name)


@needs_hosts
@pytest.mark.timeout(RUN_LIMIT + 120)
def test_two_hosts_a_vanished_host_is_a_partition_for_the_survivor(runs):
    (root, procs, seen) = runs
    out = root / "P" / "out"
    epoch = netns_latest(out)
    assert epoch > seen["R from"]
    assert procs["R1"].status == -signal.SIGKILL
    assert_lost(procs["R0"], 0, 1, seen["vanish"], (str(out / f"epoch_{epoch}.keras"), epoch))
    assert leftovers(out) == []


@needs_hosts
@pytest.mark.timeout(RUN_LIMIT + 120)
def test_two_hosts_a_partition_while_jax_starts_is_one_line_on_every_process(runs):
    (root, procs, seen) = runs
    for p in range(2):
        line = assert_lost(procs[f"S{p}"], p, 1 - p, seen["S cut"])
        assert "while this process was not in Distribution.guard" in line
        assert f"--process-id {p} " in line
    assert not (root / "S" / "out").exists() or leftovers(root / "S" / "out") == []


# ---------------------------------------------------------------- the hosts themselves

def test_netns_hosts_need_root_and_namespaces(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert netns.unavailable().startswith("making network namespaces needs root")
    monkeypatch.undo()
    if os.geteuid() != 0 or netns.unavailable() is not None:
        pytest.skip("the other refusals need root")
    monkeypatch.setattr(netns.shutil, "which", lambda name: None)
    assert "`ip` command (iproute2) is not installed" in netns.unavailable()
    monkeypatch.undo()
    if shutil.which("setpriv") is None:
        return
    # root without the capabilities a namespace takes (a container's root, say)
    result = subprocess.run(["setpriv", "--bounding-set=-sys_admin,-net_admin", sys.executable,
                             "-c", "import netns; print(netns.unavailable())"],
                            cwd=Path(__file__).parent, capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("`ip netns add` failed"), result.stdout + result.stderr


@pytest.mark.timeout(120)
def test_netns_hosts_leave_nothing_behind_even_when_killed():
    if netns.unavailable() is not None:
        pytest.skip(f"needs network namespaces: {netns.unavailable()}")
    made = netns.Hosts(2)
    names = [host.namespace for host in made] + [made.switch]
    assert set(names) <= set(netns.namespaces())
    assert (Path(netns.NETNS_DIR) / made[0].namespace / "hosts").read_text().count("node1") == 1
    made.close()
    assert not set(names) & set(netns.namespaces())
    assert not any((Path(netns.NETNS_DIR) / name).exists() for name in names)
    # a test run killed before its clean-up: the next one sweeps what it left
    code = ("import netns, sys; hosts = netns.Hosts(2); print(hosts.tag, flush=True); "
            "sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parent,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    tag = child.stdout.readline().strip()
    child.kill()
    child.wait()
    left = [name for name in netns.namespaces() if name.startswith(tag + "-")]
    assert len(left) == 3 and (Path(netns.NETNS_DIR) / f"{tag}-h0").is_dir()
    assert set(left) <= set(netns.sweep())
    assert not [name for name in netns.namespaces() if name.startswith(tag)]
    assert not (Path(netns.NETNS_DIR) / f"{tag}-h0").exists()
