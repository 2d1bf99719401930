"""One training process for the preemption tests (run as a script by tests/test_preempt.py).

Trains a tiny Dense network for many epochs with `EpochCheckpoint(every=1)`
inside `run_main` (the examples' entry point), on the backend that
`KERAS_BACKEND` names, and prints `at MOMENT` when it reaches the moment at
which the test signals it:

- `startup`: before Keras and the backend are imported (the signal lands in
  the imports);
- `first-batch`: at the first batch's start (the signal lands in the first
  step, which compiles);
- `mid-epoch`: at the end of the third batch of the second epoch, where it
  waits for the signal;
- `save`: inside the first checkpoint's save, where it waits for a signal;
- `save-twice`: there too, but after the first signal it says `got NAME` and
  waits for a second one.

Usage: python preempt_training.py OUTPUT_FOLDER MOMENT
"""

import argparse
import os
import sys
import time

from pyimagesearch.cli import run_main

WAIT = 120  # seconds a pause waits for the test's signal


def wait_for_signal(count=1):
    """Waits until `count` stop signals arrived (the first is only recorded while training)."""
    from pyimagesearch.infra.signals import interrupt_requested

    deadline = time.monotonic() + WAIT
    while interrupt_requested() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if count > 1:
        print(f"got {interrupt_requested()}", flush=True)
        while time.monotonic() < deadline:
            time.sleep(0.02)  # the second signal raises here


def run(args):
    print(f"[INFO] pid {os.getpid()}", flush=True)
    from pyimagesearch.infra.signals import interrupts_deferred

    with interrupts_deferred():  # the engine's import is not cut (docs/reliability.md)
        if args.moment == "startup":
            print("at startup", flush=True)
        from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered

        with tensorflow_start_up_filtered():
            keras = import_keras()
        import numpy as np

        from pyimagesearch.callbacks import EpochCheckpoint
        from pyimagesearch.callbacks import epochcheckpoint

    if args.moment.startswith("save"):
        save_model = epochcheckpoint.save_model

        def pausing_save(model, path):
            print(f"at {args.moment}", flush=True)
            wait_for_signal(count=2 if args.moment == "save-twice" else 1)
            epochcheckpoint.save_model = save_model  # the next saves as usual
            save_model(model, path)

        epochcheckpoint.save_model = pausing_save

    def batch_begin(batch, logs):
        if args.moment == "first-batch" and (state["epoch"], batch) == (0, 0):
            print("at first-batch", flush=True)

    def batch_end(batch, logs):
        if args.moment == "mid-epoch" and (state["epoch"], batch) == (1, 2):
            print("at mid-epoch", flush=True)
            wait_for_signal()

    state = {"epoch": 0}
    track = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: state.update(epoch=epoch),
        on_train_batch_begin=batch_begin, on_train_batch_end=batch_end)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 64)]
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1000, verbose=0,
              callbacks=[track, EpochCheckpoint(args.output, every=1)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("moment", choices=["startup", "first-batch", "mid-epoch", "save", "save-twice"])
    run_main(parser, run, sys.argv[1:])
