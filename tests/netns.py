"""Hosts on one machine: Linux network namespaces joined by a switch (tests/test_two_hosts.py).

`Hosts(count)` makes `count` hosts and a switch, each a network namespace
whose name carries this process's id (`pyisnet<pid>-<random>-h0`, ..., `-sw`):

    switch namespace:  bridge br0, one veth end per host (s0, s1, ...)
    host i namespace:  lo up, veth eth0 at 10.213.7.(i+1)/24, named node<i>

Every host's own `/etc/netns/<namespace>/hosts` names every host and maps
this machine's host name (`socket.gethostname()`, which namespaces share) to
the host's own address, as a real host's resolver does. Nothing is made in
the machine's own network namespace: the hosts reach only each other, on the
test subnet. `host.run(...)` starts a command in a host (`ip netns exec`);
`partition(i)` / `reconnect(i)` take a host's switch port down and up (a
pulled cable: no packet passes, no connection is told); `vanish(i)` kills
every process of a host and removes its cable at once.

Clean-up (`close`) removes every namespace and hosts folder made, and runs at
exit too; `sweep()` removes those left by a process that no longer runs (a
test run killed before it could clean up). `unavailable()` says why hosts
cannot be made here (not root, no `ip`, no namespaces), or None.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys

from pyimagesearch.infra.orphans import process_alive

PREFIX = "pyisnet"
SUBNET = "10.213.7"
NETNS_DIR = "/etc/netns"
_LIMIT = 20  # seconds one `ip` command may take


def _ip(*words, check=True):
    result = subprocess.run(["ip", *words], capture_output=True, text=True, timeout=_LIMIT)
    if check and result.returncode != 0:
        raise OSError(f"ip {' '.join(words)}: {result.stderr.strip() or result.returncode}")
    return result


def namespaces():
    """The names of this machine's network namespaces."""
    result = _ip("netns", "list", check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def unavailable():
    """Why network namespaces cannot be made here, or None when they can."""
    if not sys.platform.startswith("linux"):
        return f"network namespaces are Linux's; this is {sys.platform}"
    if os.geteuid() != 0:
        return "making network namespaces needs root (uid 0); this process runs as uid " \
               f"{os.geteuid()}"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"{PREFIX}{os.getpid()}-probe"
    try:
        made = _ip("netns", "add", probe, check=False)
        if made.returncode != 0:
            return f"`ip netns add` failed: {made.stderr.strip()}"
        bridge = _ip("-n", probe, "link", "add", "br0", "type", "bridge", check=False)
        if bridge.returncode != 0:
            return f"no bridge in a network namespace: {bridge.stderr.strip()}"
        veth = _ip("-n", probe, "link", "add", "name", "va", "type", "veth", "peer", "name", "vb",
                   check=False)
        if veth.returncode != 0:
            return f"no veth pair in a network namespace: {veth.stderr.strip()}"
    except (OSError, subprocess.SubprocessError) as error:
        return f"`ip` failed: {error}"
    finally:
        _ip("netns", "delete", probe, check=False)
    return None


def _owner(name):
    """The pid in a namespace or hosts-folder name of ours, or None."""
    if not name.startswith(PREFIX):
        return None
    digits = name[len(PREFIX):].partition("-")[0]
    return int(digits) if digits.isdigit() else None


def sweep():
    """Removes the namespaces and hosts folders of ours whose process no longer runs.

    Returns:
        The names removed.
    """
    removed = []
    folders = os.listdir(NETNS_DIR) if os.path.isdir(NETNS_DIR) else []
    for name in sorted(set(namespaces()) | set(folders)):
        pid = _owner(name)
        if pid is None or process_alive(pid):
            continue
        _remove_namespace(name)
        removed.append(name)
    _remove_netns_dir_if_empty()
    return removed


def _remove_namespace(name):
    result = _ip("netns", "pids", name, check=False)
    for pid in result.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    _ip("netns", "delete", name, check=False)
    shutil.rmtree(os.path.join(NETNS_DIR, name), ignore_errors=True)


def _remove_netns_dir_if_empty():
    try:
        os.rmdir(NETNS_DIR)
    except OSError:
        pass  # not empty (other namespaces' files), or absent


class Host:
    """One host: a namespace with its address and name."""

    def __init__(self, index, namespace):
        self.index = index
        self.namespace = namespace
        self.name = f"node{index}"
        self.address = f"{SUBNET}.{index + 1}"
        self.port = f"s{index}"  # its cable's end in the switch

    def command(self, argv):
        """`argv` run in this host."""
        return ["ip", "netns", "exec", self.namespace, *map(str, argv)]

    def run(self, argv, **popen):
        """Starts `argv` in this host; returns the `subprocess.Popen`."""
        return subprocess.Popen(self.command(argv), **popen)

    def pids(self):
        """The processes running in this host."""
        result = _ip("netns", "pids", self.namespace, check=False)
        return [int(pid) for pid in result.stdout.split()]


class Hosts:
    """`count` hosts joined by a switch; see the module.

    Args:
        count: number of hosts.

    Raises:
        OSError: a namespace, link or file could not be made (everything
            made so far is removed).
    """

    def __init__(self, count=2):
        # the pid (the sweep's key) and a random part: one process may make several sets
        self.tag = f"{PREFIX}{os.getpid()}-{os.urandom(2).hex()}"
        self.switch = f"{self.tag}-sw"
        self.hosts = [Host(i, f"{self.tag}-h{i}") for i in range(count)]
        self._closed = False
        atexit.register(self.close)
        try:
            self._make()
        except BaseException:
            self.close()
            raise

    def __getitem__(self, index):
        return self.hosts[index]

    def __len__(self):
        return len(self.hosts)

    def _make(self):
        _ip("netns", "add", self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        names = "".join(f"{host.address}\t{host.name}\n" for host in self.hosts)
        for host in self.hosts:
            _ip("netns", "add", host.namespace)
            folder = os.path.join(NETNS_DIR, host.namespace)
            os.makedirs(folder)
            with open(os.path.join(folder, "hosts"), "w") as hosts:
                # this machine's name is the host's own address, as on a real host
                hosts.write(f"127.0.0.1\tlocalhost\n{host.address}\t{socket.gethostname()}\n"
                            f"{names}")
            _ip("-n", host.namespace, "link", "set", "lo", "up")
            _ip("link", "add", "eth0", "netns", host.namespace, "type", "veth",
                "peer", "name", host.port, "netns", self.switch)
            _ip("-n", self.switch, "link", "set", host.port, "master", "br0")
            _ip("-n", self.switch, "link", "set", host.port, "up")
            _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip("-n", host.namespace, "link", "set", "eth0", "up")

    def partition(self, index):
        """Takes host `index`'s switch port down: nothing passes, nobody is told."""
        _ip("-n", self.switch, "link", "set", self.hosts[index].port, "down")

    def reconnect(self, index):
        """Brings host `index`'s switch port up again."""
        _ip("-n", self.switch, "link", "set", self.hosts[index].port, "up")

    def vanish(self, index):
        """Host `index` is gone: its processes SIGKILLed and its cable removed at once."""
        host = self.hosts[index]
        for pid in host.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _ip("-n", self.switch, "link", "delete", host.port, check=False)

    def close(self):
        """Removes every namespace and hosts folder this object made (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for namespace in [host.namespace for host in self.hosts] + [self.switch]:
            _remove_namespace(namespace)
        _remove_netns_dir_if_empty()
