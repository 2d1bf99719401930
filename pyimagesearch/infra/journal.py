"""The publish journal, read and checked before anything acts on it.

A journal (`.pyimagesearch.publish`, see `pyimagesearch.infra.publish`) lists
renames and removals inside its own folder. A data set is what people copy,
unpack and share, so a journal is checked as untrusted input: every entry is a
bare file name (no separator, no `..`, not absolute) of a kind the library
writes (`*.hdf5`, `*.json`, and its own temporaries of those, named after
their target), and the journal and its temporaries are regular files, never
symbolic links. Anything else is refused in one line naming the journal,
before any file is touched.
"""

import json
import os
import re
import stat

JOURNAL = ".pyimagesearch.publish"
KINDS = (".hdf5", ".json")  # what a set holds: HDF5 files and the means JSON
# `pyimagesearch.infra.atomic.new_temporary`'s names: .{target}.{host}-{pid}.{random}.tmp{suffix}
_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.[0-9a-f]{6}-\d+\.[a-z0-9_]+\.tmp(\.hdf5|\.json)?$")


class JournalError(ValueError):
    """A publish journal that names something outside its folder, or is malformed."""


def read_journal(folder):
    """Returns `folder`'s publish journal, checked, or None when there is none.

    Reads only: nothing is renamed, removed or locked.

    Args:
        folder: the folder of a set.

    Returns:
        None, or a dict with "moves" (`(temporary, target)` paths), "removals"
        (paths), "pid" and "host" (the publisher), paths inside `folder`.

    Raises:
        JournalError: the journal is malformed, a symbolic link, or names a
            file outside `folder` or of a kind the library does not write.
    """
    folder = os.fspath(folder)
    path = os.path.join(folder, JOURNAL)
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise _refused(path, "is a symbolic link")
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _refused(path, f"cannot be read ({error})") from None
    if not isinstance(content, dict) or not {"moves", "removals"} <= set(content):
        raise _refused(path, 'is not a JSON object with "moves" and "removals"')
    (moves, removals) = (content["moves"], content["removals"])
    if not isinstance(moves, list) or not isinstance(removals, list):
        raise _refused(path, '"moves" and "removals" must be lists')
    checked = []
    for move in moves:
        if not (isinstance(move, list) and len(move) == 2):
            raise _refused(path, f"holds the move {move!r}; expected [temporary, target]")
        (temporary, target) = (_name(path, move[0]), _name(path, move[1]))
        match = _TEMPORARY.match(temporary)
        if match is None or match["target"] != target:
            raise _refused(path, f"moves {temporary!r}, which is not a temporary of {target!r}")
        _regular_or_absent(path, os.path.join(folder, temporary))
        checked.append((os.path.join(folder, temporary), os.path.join(folder, target)))
    gone = [os.path.join(folder, _name(path, removal)) for removal in removals]
    for removal in gone:
        if os.path.isdir(removal) and not os.path.islink(removal):
            raise _refused(path, f"removes {removal!r}, a folder")
    return {"moves": checked, "removals": gone, "pid": content.get("pid"), "host": content.get("host"),
            "path": path}


def _name(path, name):
    """`name` when it is a bare file name of a kind the library writes; else the journal is refused."""
    if (not isinstance(name, str) or name in ("", ".", "..") or "/" in name or os.sep in name
            or (os.altsep and os.altsep in name) or "\0" in name or os.path.isabs(name)):
        raise _refused(path, f"names {name!r}, not a file name inside its folder")
    if not name.endswith(KINDS):
        raise _refused(path, f"names {name!r}, not a file the library writes (*.hdf5, *.json)")
    return name


def _regular_or_absent(path, temporary):
    try:
        mode = os.lstat(temporary).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise _refused(path, f"moves {temporary!r}, which is not a regular file (a link or a folder)")


def _refused(path, why):
    return JournalError(
        f"publish journal {path!r} {why}: refused, nothing was touched. It was not written by "
        "pyimagesearch: remove it if you trust the folder's files, or rebuild the set.")
