"""How the processes of a multi-process run meet, and learn that one of them failed.

Pure Python sockets, before and beside JAX's coordination service:

- **The lobby.** Process 0 listens on the coordinator's port + 1 (JAX's
  service takes the port itself); every other process connects and says its
  id. Process 0 prints `waiting for processes at HOST:PORT: 1 of 2 joined
  (20 s)` every `PROGRESS_EVERY` seconds, the others `waiting for process 0
  at HOST:PORT (20 s)`. A port in use, a duplicated id, a process count that
  differs and a run that never gathers within `startup_timeout` end in one
  line (`StartupError`) instead of JAX's silent five-minute wait.
- **The watch.** The lobby's connections stay open during training: every
  process sends a heartbeat each second and `done` when it finishes. A
  process whose connection closes, or that is silent for
  `heartbeat_timeout` seconds, without `done` has failed: process 0 tells
  the others which one (`failed I`), and every survivor calls `on_failure(I)`.
  A process stopped by a signal says so: another process forwards the signal
  to process 0 (`signal NAME`, `on_signal(NAME)` there), which stops at its
  next batch, writes its checkpoint and tells the others (`stopped NAME`,
  `on_stopped(NAME)` there) before it exits. Before it tells the others that
  the run ends (`failed I`, `stopped NAME`), process 0 lets the checkpoint
  being written finish (`settle`) and sends the line that names its last
  checkpoint (`where TEXT`, kept in `chief_where`): every process names the
  checkpoint that is on process 0's disk, shared folder or not.
- **The settings.** Each process brings the settings that must agree (batch
  size, epochs, seed, versions: `settings`); process 0 compares them with its
  own, and a difference ends every process with one line naming the setting
  and both values, before any training.
"""

import json
import socket
import threading
import time

from pyimagesearch.infra.validation import check_host_port

PROGRESS_EVERY = 10  # seconds between two "waiting for" lines
BEAT_EVERY = 1  # seconds between two heartbeats


class StartupError(RuntimeError):
    """The processes of a run could not meet; the message is one line saying why."""


def lobby_address(coordinator):
    """`(host, port + 1)`: where the lobby of the run at `coordinator` listens."""
    (host, port) = check_host_port(coordinator, "coordinator")
    return host, port + 1


def check_address(coordinator):
    """Raises `StartupError` unless the coordinator's host resolves and its ports fit."""
    (host, port) = lobby_address(coordinator)
    if port > 65535:
        raise StartupError(f"coordinator {coordinator}: the run needs its port and the next "
                           f"one (the lobby); pick a port below 65535.")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise StartupError(f"coordinator {coordinator}: cannot resolve host {host!r} "
                           f"({error.strerror}); check the address of process 0.") from None


def check_port_free(coordinator):
    """Raises `StartupError` when the coordinator's port is taken on this host (process 0)."""
    (_, port) = check_host_port(coordinator, "coordinator")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", int(port)))
        except PermissionError:
            raise StartupError(f"port {port} of coordinator {coordinator} needs privileges on "
                               f"this host: pick a port above 1023.") from None
        except OSError:
            raise StartupError(
                f"port {port} of coordinator {coordinator} is in use on this host (another run "
                f"or program): pick another port."
            ) from None


def is_this_host(host):
    """Whether `host` resolves to an address of this machine (one a socket here can bind)."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    for (family, kind, protocol, _, address) in found:
        with socket.socket(family, kind, protocol) as probe:
            try:
                probe.bind(address[:1] + (0,) + address[2:])
                return True
            except OSError:
                continue
    return False


class Watch:
    """One process's connection(s) to the others: the lobby, then the watch.

    Args:
        coordinator: `host:port` of process 0.
        num_processes: number of processes.
        process_id: this process.
        startup_timeout: seconds to wait for every process to join.
        heartbeat_timeout: seconds of silence after which a process has failed.
        report: called with each progress line (`print` by default).
        settings: a dict of JSON values that must be equal in every process
            (batch size, epochs, seed, versions), or None.
    """

    def __init__(self, coordinator, num_processes, process_id, startup_timeout,
                 heartbeat_timeout, report=print, settings=None):
        self.coordinator = coordinator
        self.num_processes = num_processes
        self.process_id = process_id
        self.startup_timeout = startup_timeout
        self.heartbeat_timeout = heartbeat_timeout
        self.report = report
        self.settings = dict(settings or {})
        self.on_failure = None
        self.on_signal = None
        self.on_stopped = None
        self.settle = None  # process 0: completes its checkpoint, returns the line naming it
        self.failed = None
        self.stopped = None
        self.chief_where = None  # other processes: process 0's line naming its checkpoint
        self.longest_silence = 0.0  # seconds: the longest wait for another process's word
        self._failing = False
        self._mismatch = None
        self._left = set()  # process 0: processes that joined the lobby and closed before the start
        self._lock = threading.Lock()
        self._peers = {}  # process 0: id -> [socket, last heard, done]
        self._server = None
        self._sock = None  # other processes: the connection to process 0
        self._finished = False

    # ------------------------------------------------------------ start-up

    def check_local(self):
        """What can be checked before meeting: the address; on process 0, its ports.

        Raises:
            StartupError: an unresolvable host, a port in use on process 0, or
                a process 0 already running there (a duplicated id 0).
        """
        check_address(self.coordinator)
        if self.process_id == 0:
            (host, _) = lobby_address(self.coordinator)
            if not is_this_host(host):  # a warning: a service's virtual address may still lead here
                self.report(f"[WARNING] process 0: the coordinator {self.coordinator} is not an "
                            f"address of this host ({socket.gethostname()}); the other processes "
                            f"look for process 0 there: start process 0 on {host}, or give "
                            f"--coordinator this host's address")
            check_port_free(self.coordinator)
            (_, port) = lobby_address(self.coordinator)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("", port))
                except OSError:
                    self._refuse_in_use(port)

    def gather(self):
        """Waits until every process has joined; then watches them in a thread.

        Raises:
            StartupError: a port in use, a duplicated id, another process count,
                or processes missing after `startup_timeout` seconds.
        """
        self.check_local()
        if self.process_id == 0:
            self._serve_lobby()
        else:
            self._join_lobby()
        threading.Thread(target=self._watch, name="pyimagesearch-watch", daemon=True).start()

    def _serve_lobby(self):
        (host, port) = lobby_address(self.coordinator)
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(("", port))
        except OSError:
            server.close()
            self._refuse_in_use(port)
        server.listen(64)
        server.settimeout(0.2)
        self._server = server
        began = last = time.monotonic()
        while len(self._peers) < self.num_processes - 1:
            if self._mismatch is not None:
                self._close_all()
                raise StartupError(self._mismatch)
            now = time.monotonic()
            if now - began > self.startup_timeout:
                missing = [str(i) for i in range(1, self.num_processes)
                           if i not in self._peers and i not in self._left]
                left = (f" (process(es) {', '.join(map(str, sorted(self._left)))} joined, then "
                        f"gave up waiting)" if self._left else "")
                self._close_all()
                raise StartupError(
                    f"process(es) {', '.join(missing) or 'none'} of {self.num_processes} never "
                    f"joined{left} "
                    f"{self.coordinator} within {self.startup_timeout} s: check that they run "
                    f"with --coordinator {self.coordinator} --num-processes "
                    f"{self.num_processes}, and that ports {port - 1}-{port} of this host are "
                    f"reachable from theirs (firewall)."
                )
            if now - last >= PROGRESS_EVERY:
                last = now
                self.report(f"[INFO] waiting for processes at {self.coordinator}: "
                            f"{len(self._peers) + 1} of {self.num_processes} joined "
                            f"({now - began:.0f} s)")
            self._accept_one()
            self._drop_closed_peers()
        for (peer, _, _) in self._peers.values():
            _send(peer, "go")

    def _refuse_in_use(self, port):
        """The lobby's port is taken: by the lobby of a process 0 already running, or not."""
        try:
            with socket.create_connection(("localhost", port), timeout=2) as probe:
                probe.sendall(b"probe\n")
                answer = _readline(probe, timeout=2)
        except OSError:
            answer = ""
        if answer == "lobby":
            raise StartupError(f"process id 0 is duplicated: a process 0 already runs the "
                               f"run at {self.coordinator}; give each process its own id.")
        raise StartupError(f"port {port} (coordinator {self.coordinator} + 1, the run's lobby) "
                           f"is in use on this host: pick another coordinator port.")

    def _accept_one(self):
        try:
            (peer, _) = self._server.accept()
        except OSError:  # nothing to accept yet (a timeout), or the lobby closed
            return
        line = _readline(peer, timeout=5) or ""
        words = line.split(" ", 3)
        if words == ["probe"]:
            _send(peer, "lobby")
            peer.close()
            return
        if len(words) < 3 or words[0] != "join":
            peer.close()
            return
        (process_id, count) = (int(words[1]), int(words[2]))
        mismatch = _mismatch(self.settings, _settings(words[3] if len(words) > 3 else "{}"),
                             process_id)
        if mismatch is not None and count == self.num_processes:
            _send(peer, f"error {mismatch}")
            peer.close()
            self._mismatch = mismatch
        elif count != self.num_processes:
            _send(peer, f"error process {process_id} was started with --num-processes {count}, "
                        f"process 0 with {self.num_processes}: give every process the same count.")
            peer.close()
        elif process_id in self._peers or process_id == 0:
            _send(peer, f"error process id {process_id} is duplicated: another process "
                        f"{process_id} has already joined {self.coordinator}; give each "
                        f"process its own id in [0, {self.num_processes}).")
            peer.close()
        elif self._started():
            _send(peer, f"error the run at {self.coordinator} has already started: process "
                        f"{process_id} came late or is duplicated.")
            peer.close()
        else:
            _send(peer, "ok")
            peer.settimeout(None)
            self._peers[process_id] = [peer, time.monotonic(), False]
            self._left.discard(process_id)

    def _started(self):
        return len(self._peers) == self.num_processes - 1

    def _drop_closed_peers(self):
        for (process_id, (peer, _, _)) in list(self._peers.items()):
            peer.setblocking(False)
            try:
                if peer.recv(64, socket.MSG_PEEK) == b"":
                    peer.close()
                    del self._peers[process_id]
                    self._left.add(process_id)
            except BlockingIOError:
                pass
            finally:
                if process_id in self._peers:
                    peer.setblocking(True)

    def _join_lobby(self):
        (host, port) = lobby_address(self.coordinator)
        began = last = time.monotonic()
        while True:
            now = time.monotonic()
            if now - began > self.startup_timeout:
                raise StartupError(
                    f"process 0 at {self.coordinator} did not gather the run within "
                    f"{self.startup_timeout} s: check that process 0 runs with --coordinator "
                    f"{self.coordinator}, that every process was started, and that ports "
                    f"{port - 1}-{port} of {host} are reachable from here (firewall)."
                )
            if now - last >= PROGRESS_EVERY:
                last = now
                self.report(f"[INFO] waiting for process 0 at {self.coordinator} "
                            f"({now - began:.0f} s)")
            try:
                sock = socket.create_connection((host, port), timeout=2)
            except OSError:
                time.sleep(0.25)
                continue
            _send(sock, f"join {self.process_id} {self.num_processes} "
                        f"{json.dumps(self.settings, sort_keys=True)}")
            answer = _readline(sock, timeout=10)
            if answer.startswith("error "):
                sock.close()
                raise StartupError(answer[len("error "):])
            if answer != "ok":
                sock.close()
                raise StartupError(f"{host}:{port} answered {answer[:40]!r}, not as the lobby of "
                                   f"the run at {self.coordinator}: another program listens there.")
            break
        while True:
            remaining = self.startup_timeout - (time.monotonic() - began)
            answer = _readline(sock, timeout=max(0.1, min(PROGRESS_EVERY, remaining)))
            if answer == "go":
                break
            if answer == "" and time.monotonic() - began > self.startup_timeout:
                sock.close()
                raise StartupError(f"joined {self.coordinator}, but the other processes did "
                                   f"not all join within {self.startup_timeout} s: see process "
                                   f"0's message.")
            if answer is None:
                sock.close()
                raise StartupError(f"process 0 at {self.coordinator} stopped while the run "
                                   f"gathered: see its message.")
            self.report(f"[INFO] joined {self.coordinator}, waiting for the other processes "
                        f"({time.monotonic() - began:.0f} s)")
        sock.settimeout(None)
        self._sock = sock

    # ------------------------------------------------------------ the watch

    def forward_signal(self, name):
        """Asks process 0 to stop the run at its next batch, as if it had received signal `name`."""
        if self._sock is not None:
            _send(self._sock, f"signal {name}")

    def stop(self, name, where=None):
        """Tells the others that this process (process 0) stops the run on signal `name`.

        Args:
            name: the signal's name.
            where: the line naming the checkpoint written, or None.
        """
        with self._lock:
            self._finished = True
        for (peer, _, _) in list(self._peers.values()):
            _send(peer, _where_line(where) + f"stopped {name}")

    def finish(self):
        """Says that this process ended training normally (its silence is no failure)."""
        with self._lock:
            self._finished = True
        if self._sock is not None:
            _send(self._sock, "done")
        for (peer, _, _) in list(self._peers.values()):
            _send(peer, "done")

    def _watch(self):
        if self.process_id == 0:
            self._watch_peers()
        else:
            self._watch_chief()

    def _watch_peers(self):
        import select

        while True:
            with self._lock:
                peers = {i: p for (i, p) in self._peers.items() if not p[2]}
            if not peers:
                return
            sockets = {p[0]: i for (i, p) in peers.items()}
            try:
                (ready, _, _) = select.select([self._server, *sockets], [], [], BEAT_EVERY)
            except (OSError, ValueError):  # closed by this process
                return
            for sock in ready:
                if sock is self._server:
                    self._accept_one()  # a late or duplicated process: refused with a line
                    continue
                process_id = sockets[sock]
                data = _recv(sock)
                if data is None:
                    self._fail(process_id)
                    return
                heard = time.monotonic()
                self.longest_silence = max(self.longest_silence,
                                           heard - self._peers[process_id][1])
                self._peers[process_id][1] = heard
                words = data.split()
                if "done" in words:
                    self._peers[process_id][2] = True
                if "signal" in words[:-1] and self.on_signal is not None:
                    self.on_signal(words[words.index("signal") + 1])
            now = time.monotonic()
            for (process_id, (sock, heard, done)) in peers.items():
                _send(sock, "beat")
                if not done and now - heard > self.heartbeat_timeout:
                    self._fail(process_id)
                    return

    def _watch_chief(self):
        import select

        heard = time.monotonic()
        pending = ""  # a line cut by recv
        while True:
            try:
                (ready, _, _) = select.select([self._sock], [], [], BEAT_EVERY)
            except (OSError, ValueError):  # closed by this process
                return
            if ready:
                data = _recv(self._sock)
                if data is None:
                    self._fail(0)
                    return
                self.longest_silence = max(self.longest_silence, time.monotonic() - heard)
                heard = time.monotonic()
                lines = (pending + data).split("\n")
                pending = lines.pop()
                for line in lines:
                    (word, _, rest) = line.partition(" ")
                    if word == "done":  # process 0 ended training normally
                        return
                    if word == "where":  # process 0's checkpoint, before `stopped` or `failed`
                        self.chief_where = rest
                    elif word == "stopped" and rest:  # process 0 stopped the run on a signal
                        self.stopped = rest
                        if self.on_stopped is not None:
                            self.on_stopped(self.stopped)
                        return
                    elif word == "failed" and rest.isdigit():
                        self._fail(int(rest))
                        return
            elif time.monotonic() - heard > self.heartbeat_timeout:
                self._fail(0)
                return
            _send(self._sock, "beat")

    def _fail(self, process_id):
        with self._lock:
            if self._finished or self._failing:
                return
            self._failing = True
        if self.process_id == 0:
            # the checkpoint under way is complete before anyone hears that the run ends
            where = self.settle() if self.settle is not None else None
            for (other, (sock, _, _)) in self._peers.items():
                if other != process_id:
                    _send(sock, _where_line(where) + f"failed {process_id}")
        self.failed = process_id
        if self.on_failure is not None:
            self.on_failure(process_id)

    def _close_all(self):
        for (peer, _, _) in self._peers.values():
            peer.close()
        if self._server is not None:
            self._server.close()


def _settings(text):
    try:
        settings = json.loads(text)
    except ValueError:
        return {}
    return settings if isinstance(settings, dict) else {}


def _mismatch(mine, theirs, process_id):
    """The line naming the first setting in which process `process_id` differs from process 0, or None."""
    for name in sorted(set(mine) | set(theirs)):
        if mine.get(name) != theirs.get(name):
            return (f"process {process_id} was started with {name} = {theirs.get(name)!r}, "
                    f"process 0 with {name} = {mine.get(name)!r}: start every process of "
                    f"the run with the same settings.")
    return None


def _where_line(where):
    """The `where TEXT` line that comes before `failed` or `stopped` ('' without a text)."""
    return "" if where is None else "where " + " ".join(str(where).split()) + "\n"


def _send(sock, line):
    try:
        sock.sendall(line.encode() + b"\n")
    except OSError:
        pass


def _recv(sock):
    """What arrived on `sock`, or None when it closed."""
    try:
        data = sock.recv(4096)
    except OSError:
        return None
    return data.decode(errors="replace") if data else None


def _readline(sock, timeout):
    """One line from `sock`: '' after `timeout` seconds, None when it closed."""
    sock.settimeout(timeout)
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = sock.recv(1)
            if not chunk:
                return None if not data else data.decode(errors="replace").strip()
            data += chunk
    except (socket.timeout, OSError):
        return "" if not data else data.decode(errors="replace").strip()
    return data.decode(errors="replace").strip()
