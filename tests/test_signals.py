"""Ctrl-C and SIGTERM within `interrupts_handled()`: raised at once, or between batches, never lost."""

import argparse
import gc
import os
import signal

import numpy as np
import pytest

from pyimagesearch.callbacks.stoponsignal import StopOnSignal
from pyimagesearch.cli import run_main
from pyimagesearch.infra.signals import interrupt_requested, interrupts_handled


def test_sigterm_is_ctrl_c_and_the_handlers_are_restored():
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), interrupts_handled():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.pause()  # never reached on a loaded machine either: the handler raises first
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


# the dropped interrupt is not reported either (JAX's gc callback printed its traceback
# before the one line: issue 27, the demo under JAX)
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_dropped_in_a_garbage_collection_callback_still_stops_the_run(capsys):
    def run(args):
        def callback(phase, info):
            gc.callbacks.remove(callback)
            signal.raise_signal(signal.SIGINT)  # its KeyboardInterrupt is raised here, and Python drops it

        gc.callbacks.append(callback)
        gc.collect()
        return "finished"

    with pytest.raises(SystemExit) as exit_info:
        run_main(argparse.ArgumentParser(), run, [])
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "[INFO] interrupted\n"


def test_stop_on_signal_stops_fit_between_batches_and_a_second_signal_at_once():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    seen = []

    def signal_at_batch_3(batch, logs):
        seen.append(batch)
        if batch == 3:
            os.kill(os.getpid(), signal.SIGINT)  # recorded only: fit goes on to the batch's end

    x = np.zeros((40, 2), "float32")
    with interrupts_handled():
        with pytest.raises(KeyboardInterrupt, match="SIGINT"):
            model.fit(x, x[:, :1], batch_size=4, epochs=3, verbose=0,
                      callbacks=[keras.callbacks.LambdaCallback(on_train_batch_begin=signal_at_batch_3),
                                 StopOnSignal()])
        assert seen == [0, 1, 2, 3] and interrupt_requested() == "SIGINT"
        with pytest.raises(KeyboardInterrupt):  # the next signal is not deferred
            os.kill(os.getpid(), signal.SIGINT)
            signal.pause()


# Issue 27, finding 1: the demo under JAX, signalled 3-7 s after its start, was still running
# 60 s later in 4 of 6 trials: the KeyboardInterrupt was raised inside an import that a
# library guards with a bare `except:` (or in native code that clears it) and lost. The
# signal is now delivered again until the program handles it.
@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_preempt_a_swallowed_interrupt_is_delivered_again(signum):
    import time

    name = signal.Signals(signum).name
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt, match=name), interrupts_handled():
        try:
            os.kill(os.getpid(), signum)
            signal.pause()
        except:  # noqa: E722 - what a library's import does
            pass
        while time.monotonic() - began < 60:  # the program goes on, unaware
            time.sleep(0.01)
    assert time.monotonic() - began < 60
    # while a `finally` clause runs on the interrupt's way out, it is not sent again
    cleaned = []
    with pytest.raises(KeyboardInterrupt, match=name), interrupts_handled():
        try:
            os.kill(os.getpid(), signum)
            signal.pause()
        finally:
            time.sleep(3)  # longer than the watchdog's wait
            cleaned.append(True)
    assert cleaned == [True]
