"""Files a process names after itself, and finding them once that process is dead.

The library's temporary files (`pyimagesearch.infra.atomic`) and its
shared-memory batches in `/dev/shm` (`pyimagesearch.io.sharedbatch`) carry
this host's tag and the pid of the process they belong to. A process killed
with SIGKILL cannot remove its own; `orphans` finds those of this host whose
process no longer runs, and each of the two removes its kind. Files of live
processes, and of other hosts sharing a folder, are never touched.
"""

import hashlib
import os
import socket


def host_tag():
    """A short tag of this host's name, carried by temporary and shared-memory names."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def process_alive(pid):
    """Whether process `pid` of this host still runs (this process counts as running)."""
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphans(folder, pattern, owner="pid", own=False):
    """The entries of `folder` named by `pattern` whose owner, a process of this host, is dead.

    Args:
        folder: the folder to look in (a missing folder has none).
        pattern: a compiled regular expression with the groups `host` (a
            `host_tag`) and `owner`'s group (a pid), matched at the name's start.
        owner: the name of the group holding the owner's pid.
        own: count this process's own entries too (it is about to exit
            without unwinding).

    Returns:
        A list of `(os.DirEntry, match)`.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    (host, found) = (host_tag(), [])
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or match["host"] != host:
            continue
        pid = int(match[owner])
        if process_alive(pid) and not (own and pid == os.getpid()):
            continue
        found.append((entry, match))
    return found
