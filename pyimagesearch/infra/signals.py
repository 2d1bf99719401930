"""Ctrl-C and SIGTERM: one way to stop a run, honoured every time.

Cluster schedulers (SLURM's preemption, a job's time limit) send SIGTERM
before they kill: the library's entry points treat it as Ctrl-C, so the
`finally` clauses and context managers that remove temporary files run on
`kill` too.

A `KeyboardInterrupt` raised by the signal handler where Python cannot
deliver it (a garbage-collection callback, which Python ignores; a callback
called from native code, which aborts the process) is lost. Within
`interrupts_handled()` the handler therefore also records the signal, and
while a `StopOnSignal` callback runs a `fit`, `predict` or `evaluate` it only
records it: the callback raises the `KeyboardInterrupt` between two batches,
from plain Python code. A second signal raises at once (but a second SIGTERM
after a first, which schedulers and launchers send to every process, does not).

A `KeyboardInterrupt` can also be swallowed outright: raised inside an import
that a library guards with a bare `except:`, or in native code that clears
it (JAX's and TensorFlow's imports do both), or dropped with a traceback in
a garbage-collection callback (JAX's; the traceback is not shown within the
block). So after the first signal, a
watchdog thread re-sends it every `RESEND_EVERY` seconds while the main
thread is neither handling the `KeyboardInterrupt` (unwinding, running its
`finally` clauses) nor deferring it to a callback, until the block ends:
a stop signal is never lost, whenever it comes.

An engine may install its own handler at the C level without Python's
`signal` module knowing (JAX's `jax.distributed.initialize` does, for its
preemption service, and then ignores SIGTERM): `reassert_handlers()` puts the
library's handler back in force, and `pyimagesearch.distribute` calls it
after starting JAX. A run stopped by a signal exits with status
`128 + signal number` (`interrupt_status`): 130 after SIGINT, 143 after SIGTERM.
"""

import contextlib
import os
import signal
import sys
import threading

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RESEND_EVERY = 1.0  # seconds between two deliveries of a stop signal the program lost
_state = {"requested": None, "deferred": 0, "installed": (), "block": None}
_resend_lock = threading.Lock()


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


@contextlib.contextmanager
def interrupts_handled():
    """Within the block, SIGINT and SIGTERM stop the run as Ctrl-C does, and are never lost.

    The handler records the signal (see `interrupt_requested`) and raises
    `KeyboardInterrupt`, or, while interrupts are deferred (a `StopOnSignal`
    callback during training), only records it for the callback to act on
    between batches. The library's entry points (`pyimagesearch` commands,
    `run_main` of the example scripts) run inside this block; a program of
    your own can too. Signals whose handler is not Python's default are left
    alone, and nothing changes outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    previous = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}
    mine = [signum for signum in _STOP_SIGNALS if previous[signum] is defaults[signum]]
    block = object()  # this block, for its watchdog
    outer_block = _state["block"]
    _state.update(requested=None, deferred=0, block=block if mine else outer_block)
    for signum in mine:
        signal.signal(signum, _on_stop_signal)
    outer = _state["installed"]
    _state["installed"] = tuple(mine) or outer
    unraisable = sys.unraisablehook

    def quiet(report):
        # a KeyboardInterrupt of this handler raised in a garbage-collection callback
        # (JAX's) is dropped by Python with a traceback: the watchdog delivers it again
        if not (isinstance(report.exc_value, KeyboardInterrupt) and _state["requested"]):
            unraisable(report)

    if mine:
        sys.unraisablehook = quiet
    try:
        yield
    finally:
        with _resend_lock:  # no watchdog sends after this
            _state["block"] = outer_block
        for signum in mine:
            signal.signal(signum, previous[signum])
        if sys.unraisablehook is quiet:
            sys.unraisablehook = unraisable
        _state.update(deferred=0, installed=outer)


def reassert_handlers():
    """Puts the library's SIGINT and SIGTERM handler back in force, after an engine replaced it.

    `signal.getsignal` still names Python's handler after a native library
    (JAX's preemption notifier) installed its own with `sigaction`; setting
    it again here replaces the native one. Only the signals that
    `interrupts_handled()` took are touched, and only in the main thread.

    Returns:
        The names of the signals whose handler was set again.
    """
    if threading.current_thread() is not threading.main_thread():
        return []
    names = []
    for signum in _state["installed"]:
        if signal.getsignal(signum) is _on_stop_signal:
            signal.signal(signum, _on_stop_signal)
            names.append(signal.Signals(signum).name)
    return names


def interrupt_status(default="SIGINT"):
    """The exit status of a run stopped by a signal: 128 + its number (130 SIGINT, 143 SIGTERM).

    Args:
        default: the signal's name when none was recorded (a plain Ctrl-C
            `KeyboardInterrupt`).

    Returns:
        An int.
    """
    return 128 + int(signal.Signals[_state["requested"] or default])


def interrupt_requested():
    """The name of the stop signal received within `interrupts_handled()` ("SIGINT", "SIGTERM"), or None."""
    return _state["requested"]


def raise_if_interrupted():
    """Raises `KeyboardInterrupt` if a stop signal was received and not yet acted on."""
    if _state["requested"] is not None:
        _state["deferred"] = 0
        raise KeyboardInterrupt(_state["requested"])


def defer_interrupts(on):
    """Starts (`on=True`) or ends a span in which a first stop signal is only recorded.

    Used by `StopOnSignal` around `fit`, `predict` and `evaluate`; spans nest.
    """
    _state["deferred"] = _state["deferred"] + 1 if on else max(0, _state["deferred"] - 1)


@contextlib.contextmanager
def interrupts_deferred():
    """Within the block a first stop signal is only recorded, and raised when the block ends.

    For work that a `KeyboardInterrupt` must not cut: the first import of
    Keras and its engine, whose native code calls back into Python (a
    `KeyboardInterrupt` raised in such a callback aborts the process, and
    one raised in a guarded import is lost). A second, different signal
    still stops at once.

    Yields:
        None.

    Raises:
        KeyboardInterrupt: a stop signal arrived in the block.
    """
    defer_interrupts(True)
    try:
        yield
    finally:
        defer_interrupts(False)
    raise_if_interrupted()


def request_stop(name):
    """Records stop signal `name` as received, from any thread, when a callback acts on it.

    Returns:
        True when it was recorded (or one already was) while a callback
        defers interrupts; False when nothing defers them (the caller then
        sends the signal itself).
    """
    if _state["requested"] is not None:
        return True
    if _state["deferred"]:
        _state["requested"] = name
        return True
    return False


def _resend(block, signum):
    """The watchdog: delivers `signum` again while the main thread lost the `KeyboardInterrupt`."""
    import time

    main = threading.main_thread().ident
    quiet = 0  # checks in a row without the interrupt being handled
    while True:
        time.sleep(RESEND_EVERY / 4)
        with _resend_lock:
            if _state["block"] is not block:
                return
            current = sys._current_exceptions().get(main)
            if isinstance(current, tuple):  # Python 3.11: (type, value, traceback)
                current = current[1]
            handled = isinstance(current, KeyboardInterrupt)
            quiet = 0 if handled or _state["deferred"] else quiet + 1
            if quiet >= 4:
                quiet = 0
                os.kill(os.getpid(), signum)


def _on_stop_signal(signum, frame):
    name = signal.Signals(signum).name
    block = _state["block"]
    first = _state["requested"] is None
    if first:
        _state["requested"] = name
        if block is not None:
            threading.Thread(target=_resend, args=(block, signum), daemon=True,
                             name="pyimagesearch-signal-watchdog").start()
    if block is None:
        return  # delivered while the block ends: its KeyboardInterrupt is on its way
    # a scheduler's SIGTERM may come twice (to the launcher's processes, and forwarded
    # by another process): only another signal stops at once
    if _state["deferred"] and (first or name == _state["requested"] == "SIGTERM"):
        return
    raise KeyboardInterrupt(name)
