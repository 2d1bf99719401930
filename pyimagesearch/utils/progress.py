"""Progress bars (progressbar2) for long work."""

import sys

import progressbar


def progress_bar(label, total, verbose=True):
    """Returns a started progress bar over `total` steps, or a silent one.

    Args:
        label: text shown before the bar.
        total: number of steps.
        verbose: False for a bar that prints nothing.

    Returns:
        A progressbar2 bar; call `update(n)` and `finish()`.
    """
    if not verbose:
        return progressbar.NullBar(max_value=total)
    widgets = [label, progressbar.Percentage(), " ", progressbar.Bar(), " ", progressbar.ETA()]
    return progressbar.ProgressBar(max_value=total, widgets=widgets, fd=_CurrentStderr()).start()


class _CurrentStderr:
    """Whatever `sys.stderr` is when written to.

    progressbar swaps `sys.stderr` for the stream it saw at import time, which
    may be closed by then (pytest's capture, `contextlib.redirect_stderr`).
    """

    def __getattr__(self, name):
        return getattr(sys.stderr, name)
