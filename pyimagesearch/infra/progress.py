"""Progress that suits where it goes: a bar on a terminal, a few plain lines in a log."""

import sys
import time

import progressbar

# in a log: a line at each 10% of the work (if 1 s passed since the last line), or at
# a 5% step when 30 s passed; the last line always: at most 21 lines, 1 for a short job
LOG_STEP = 0.05
LOG_EVERY_STEPS = 2
LOG_MIN_SECONDS = 1.0
LOG_SECONDS = 30.0


def is_terminal(stream):
    """Whether `stream` is an interactive terminal (False for a file, a pipe or a notebook).

    Args:
        stream: a file-like object.

    Returns:
        True when `stream.isatty()` says so.
    """
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except ValueError:  # a closed stream
        return False


def write_line(line, stream=None):
    """Writes `line` and its newline in one call, then flushes (`sys.stderr` by default).

    `print` writes the text and the newline in two calls; on Python's
    write-through stderr each is its own system call, so another thread's
    output (a progress line on stdout, merged into the same pipe or log)
    can land between them and glue two lines together.

    Args:
        line: the text, without its newline.
        stream: a text stream; `sys.stderr` when None.
    """
    stream = sys.stderr if stream is None else stream
    stream.write(line + "\n")
    stream.flush()


def keras_verbose(stream=None):
    """Keras' `verbose` for `fit`/`predict`, chosen by where the output goes.

    Args:
        stream: the stream Keras writes to; `sys.stdout` when None.

    Returns:
        1 (a progress bar within each epoch) on a terminal, else 2 (one line
        per epoch, no terminal control codes).
    """
    return 1 if is_terminal(sys.stdout if stream is None else stream) else 2


def progress_bar(label, total, verbose=True, stream=None, log_step=None):
    """Returns a started progress display over `total` steps, or a silent one.

    On a terminal it is a progressbar2 bar. Elsewhere (a file, a pipe, a
    notebook) it prints plain lines, `LABEL 40% (144/360), 3 s`: at each 10%
    of the work once a second passed since the last line, at a 5% step once
    30 s passed, and the last line; at most 21 lines, never terminal control
    codes.

    Args:
        label: text shown before the bar.
        total: number of steps.
        verbose: False for a bar that prints nothing.
        stream: where to write; the current `sys.stderr` when None.
        log_step: in a log, a line at each `log_step` of the work (a fraction,
            e.g. 0.02) once a second passed, instead of at each 10%: for long
            jobs, whose 10% can take many minutes.

    Returns:
        An object with `update(n)` and `finish()`.
    """
    if not verbose:
        return progressbar.NullBar(max_value=total)
    stream = _CurrentStderr() if stream is None else stream
    if not is_terminal(stream):
        if log_step is not None:
            return LogProgress(label, total, stream, step=log_step, every_steps=1)
        return LogProgress(label, total, stream)
    widgets = [label, progressbar.Percentage(), " ", progressbar.Bar(), " ", progressbar.ETA()]
    return progressbar.ProgressBar(max_value=total, widgets=widgets, fd=stream).start()


class LogProgress:
    """Progress as a few plain lines, for a log file or a pipe.

    Args:
        label: text at the start of each line.
        total: number of steps.
        stream: a file-like object.
        step: the fraction of the work between two possible lines.
        every_steps: a line at every this many steps once a second passed
            (at any step once `LOG_SECONDS` passed).
    """

    def __init__(self, label, total, stream, step=LOG_STEP, every_steps=LOG_EVERY_STEPS):
        self.label = label
        self.step = step
        self.every_steps = every_steps
        self.total = max(int(total), 0)
        self.stream = stream
        self.start = self.last_time = time.monotonic()
        self.last_step = 0  # the steps reached at the last line
        self.finished = False

    def update(self, value):
        """Records that `value` steps are done, printing a line when one is due."""
        if self.total == 0:
            return
        step = int(min(value, self.total) / self.total / self.step + 1e-9)
        if step <= self.last_step:
            return
        now = time.monotonic()
        waited = now - self.last_time
        if (step % self.every_steps == 0 and waited >= LOG_MIN_SECONDS) or waited >= LOG_SECONDS:
            self._line(value, now)
            self.last_step = step

    def finish(self):
        """Prints the last line (100%) unless it is printed already."""
        if self.finished:
            return
        self.finished = True
        if self.total == 0 or self.last_step * self.step < 1.0 - 1e-9:
            self._line(self.total, time.monotonic())

    def _line(self, value, now):
        percent = 100.0 * value / self.total if self.total else 100.0
        self.stream.write(f"{self.label}{int(percent):3d}% ({value}/{self.total}), {now - self.start:.0f} s\n")
        self.stream.flush()
        self.last_time = now


class _CurrentStderr:
    """Whatever `sys.stderr` is when written to.

    progressbar swaps `sys.stderr` for the stream it saw at import time, which
    may be closed by then (pytest's capture, `contextlib.redirect_stderr`).
    """

    def __getattr__(self, name):
        return getattr(sys.stderr, name)
