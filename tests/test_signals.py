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


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped interrupt
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
    assert capsys.readouterr().err.endswith("[INFO] interrupted\n")


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
