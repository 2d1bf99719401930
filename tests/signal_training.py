"""A short training run for the signal and worker tests (run as a script by tests/test_worker_failure.py).

Trains a tiny model from an HDF5 file through `HDF5DatasetGenerator(workers=2,
use_multiprocessing=True, shared_memory=True)` with `StopOnSignal`,
`TrainingMonitor` and `EpochCheckpoint(every=1)`, inside `run_main` (the
examples' entry point), for many epochs; after each epoch it prints
`epoch N <worker pids>` so that the test knows when and whom to signal.

Usage: python signal_training.py OUTPUT_FOLDER
"""

import argparse
import os
import sys

from pyimagesearch.cli import run_main

ROWS = 64
SIZE = 8


def run(args):
    import multiprocessing

    import keras
    from datagen import SlowScale, write_noise_hdf5  # beside this script

    from pyimagesearch.callbacks import EpochCheckpoint, TrainingMonitor
    from pyimagesearch.callbacks.stoponsignal import StopOnSignal
    from pyimagesearch.io import HDF5DatasetGenerator

    path = os.path.join(args.output, "data.hdf5")
    write_noise_hdf5(path, (ROWS, SIZE, SIZE, 3), 2)
    gen = HDF5DatasetGenerator(path, 4, preprocessors=[SlowScale(0.02)], workers=2,
                               use_multiprocessing=True, shared_memory=True)
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")

    def report(epoch, logs):
        pids = [str(p.pid) for p in multiprocessing.active_children() if p.name == "pyimagesearch-worker"]
        print(f"epoch {epoch + 1} {' '.join(pids)}", flush=True)

    callbacks = [StopOnSignal(),
                 TrainingMonitor(os.path.join(args.output, "plot.png"),
                                 jsonPath=os.path.join(args.output, "history.json")),
                 EpochCheckpoint(os.path.join(args.output, "checkpoints"), every=1),
                 keras.callbacks.LambdaCallback(on_epoch_end=report)]
    model.fit(gen, epochs=1000, verbose=0, callbacks=callbacks)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    run_main(parser, run, sys.argv[1:], keras=True)  # TensorFlow's start-up lines filtered
