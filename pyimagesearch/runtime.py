"""Process set-up for the command line and the example scripts, before TensorFlow loads.

TensorFlow reads its logging level and thread-pool sizes from the environment
once, when it is imported, so `configure_process()` must run first. It only
fills in variables the user has not set, and only the entry points call it
(`pyimagesearch.cli.main`, `run_main`): importing the library in a notebook
leaves the user's settings alone.

TensorFlow 2.21 writes a few lines while it loads, before its logging reads
`TF_CPP_MIN_LOG_LEVEL` ("All log messages before absl::InitializeLog() ...",
oneDNN, "Could not find cuda drivers"); no environment variable silences
them (absl's own verbosity is set only after they are written), and
`TF_ENABLE_ONEDNN_OPTS=0` would change the numbers. The entry points that
load Keras therefore import it inside `tensorflow_start_up_filtered()`, at
the call site, in plain sight:

```python
with tensorflow_start_up_filtered():
    keras = import_keras()  # and TensorFlow, which Keras loads under every backend
```

What it hides: during the block only, the stderr file descriptor is a pipe to
a small filter process (this module run as a script) that drops native log
lines below `TF_CPP_MIN_LOG_LEVEL` and passes every other byte on at once.
What it cannot hide, and does not try to: lines TensorFlow writes after the
block (by then its logging obeys `TF_CPP_MIN_LOG_LEVEL`), lines written while
the block runs are not Python's to hold (the filter is another process, so if
the import crashes every line written before the crash still reaches the
terminal), and other threads' stderr during the block passes through the
filter too (only absl-formatted lines below the level are dropped, from any
library). A line may be delayed by the filter's start (a few milliseconds).
Nothing is installed: no import hook, no state after the block.
"""

import contextlib
import importlib
import importlib.util
import math
import os
import re
import subprocess
import sys

# TF_CPP_MIN_LOG_LEVEL: 0 all, 1 hides INFO, 2 hides INFO and WARNING, 3 hides ERROR too
HIDE_INFO_AND_WARNINGS = "2"
HIDE_ERRORS_TOO = "3"


def configure_process(environ=None):
    """Quiet logging and one thread per available core, unless already set.

    - `TF_CPP_MIN_LOG_LEVEL`: "2" (errors only) where an NVIDIA driver is
      present, so a real GPU problem is still reported; "3" where there is no
      driver or GPUs are hidden (`CUDA_VISIBLE_DEVICES=""` or "-1"), the case in
      which TensorFlow's only error line is its failed `cuInit` probe.
    - `TF_NUM_INTRAOP_THREADS` and `OPENCV_FOR_THREADS_NUM` = the cores this
      process may use (CPU affinity and cgroup quota, see `available_cores`),
      `TF_NUM_INTEROP_THREADS` = 1, so that TensorFlow's and OpenCV's pools do
      not outnumber the cores of a container (idle threads spinning on 2 cores
      cost more than they compute).

    Args:
        environ: the mapping to fill in; `os.environ` when None.

    Returns:
        A dict of the variables that were set (name -> value).
    """
    environ = os.environ if environ is None else environ
    cores = str(available_cores())
    defaults = {
        "TF_CPP_MIN_LOG_LEVEL": HIDE_INFO_AND_WARNINGS if gpu_may_be_used(environ) else HIDE_ERRORS_TOO,
        "TF_NUM_INTRAOP_THREADS": cores,
        "TF_NUM_INTEROP_THREADS": "1",
        "OPENCV_FOR_THREADS_NUM": cores,
    }
    applied = {}
    for (name, value) in defaults.items():
        if name not in environ:
            environ[name] = value
            applied[name] = value
    return applied


def gpu_may_be_used(environ=None):
    """Whether an NVIDIA driver is loaded and GPUs are not hidden by `CUDA_VISIBLE_DEVICES`.

    Args:
        environ: the environment to read; `os.environ` when None.

    Returns:
        A bool.
    """
    environ = os.environ if environ is None else environ
    if environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0")


def available_cores():
    """The number of CPU cores this process may use.

    The smallest of the CPU affinity mask and the cgroup's CPU quota (a
    container started with `--cpus 2` on a 64-core host gets 2), at least 1.

    Returns:
        An int >= 1.
    """
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:  # macOS, Windows
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def _cgroup_cpu_quota():
    """The cgroup's CPU quota in cores (v2 `cpu.max`, v1 `cpu.cfs_*`), or None if unlimited."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            (quota, period) = f.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            period = int(f.read())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


# absl's line format: "I0000 00:00:1795966094.571508    9902 port.cc:153] message"
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_PRE_INIT_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def filter_native_log(text, level):
    """Drops TensorFlow's native log lines below `level` from `text`.

    Args:
        text: what TensorFlow wrote to stderr.
        level: the `TF_CPP_MIN_LOG_LEVEL` in force (0 keeps everything).

    Returns:
        The lines to show, as one string.
    """
    keep = NativeLogFilter(level)
    return "".join(line for line in text.splitlines(keepends=True) if keep(line))


class NativeLogFilter:
    """Tells, line by line, whether a line of stderr is shown at `level` (see `filter_native_log`)."""

    def __init__(self, level):
        self.level = level
        self.dropping = False  # a dropped message's continuation lines go with it

    def __call__(self, line):
        match = _ABSL_LINE.match(line)
        if match:
            self.dropping = _SEVERITY[match.group(1)] < self.level
        elif line.rstrip("\n") == _PRE_INIT_NOTICE:
            self.dropping = self.level > 0
        elif not line.startswith((" ", "To enable the following instructions")):
            self.dropping = False
        return not self.dropping


def _log_level():
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def import_keras():
    """Imports Keras and, where it is installed, TensorFlow; call it inside `tensorflow_start_up_filtered()`.

    Keras imports TensorFlow whenever it is installed, whatever the backend
    (for its file input and output, at the first checkpoint of a JAX run):
    imported here, its start-up lines are filtered with Keras'.

    Returns:
        The `keras` module.
    """
    keras = importlib.import_module("keras")
    if importlib.util.find_spec("tensorflow") is not None:
        importlib.import_module("tensorflow")
    return keras


@contextlib.contextmanager
def tensorflow_start_up_filtered():
    """Drops TensorFlow's native start-up lines below `TF_CPP_MIN_LOG_LEVEL` from stderr in the block.

    Import Keras (or TensorFlow) inside it, once, in an entry point; see the
    module's docstring for what it hides and what it cannot. Without a level
    (or at 0), or where the filter process cannot start, the block runs with
    stderr as it is.
    """
    level = _log_level()
    if level <= 0 or "tensorflow" in sys.modules:
        yield
        return
    sys.stderr.flush()
    (read_end, write_end) = os.pipe()
    try:
        process = subprocess.Popen([sys.executable, "-I", "-S", os.path.abspath(__file__), str(level)],
                                   stdin=read_end, stdout=2, stderr=2, close_fds=True)
    except OSError:  # no filter, no filtering: TensorFlow's lines are shown
        os.close(read_end)
        os.close(write_end)
        yield
        return
    os.close(read_end)
    saved = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the filter sees the end of its input and exits
        os.close(saved)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # a child of the import holds the pipe: it ends with it
            pass


def _filter_stream(level):
    """The filter process: copies stdin to stdout line by line, without TensorFlow's lines below `level`."""
    keep = NativeLogFilter(level)
    for line in sys.stdin.buffer:
        if keep(line.decode("utf-8", "replace")):
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()


if __name__ == "__main__":
    _filter_stream(int(sys.argv[1]))
