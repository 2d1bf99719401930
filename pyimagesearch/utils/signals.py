"""SIGTERM handled like Ctrl-C, so `kill` cleans up as an interrupt does."""

import contextlib
import signal
import threading


@contextlib.contextmanager
def terminate_as_interrupt():
    """Within the block, SIGTERM raises `KeyboardInterrupt` in the main thread.

    The `finally` clauses and context managers that remove temporary files on
    Ctrl-C then run on `kill` too. Nothing changes outside the main thread or
    when the program has its own SIGTERM handler.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"terminated by signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
