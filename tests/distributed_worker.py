"""One process of the multi-process tests (tests/test_distributed.py) and benchmark.

Trains MiniVGGNet (or `--network shallownet`: a third of the CPU time, most
of it the compilation of each weight's initializer under a distribution;
tests/test_two_hosts.py) on an HDF5 file whose images carry their row number
in pixel (0, 0, 0), through `HDF5DatasetGenerator` with augmentation, the way the
chapter 9-12 scripts do (`pyimagesearch.distribute.configure`, `dist.shard`,
`dist.chief_only`). Outputs (checkpoints, plot, JSON, final model) go to
`--output`; what the test inspects (rows served per epoch, losses, final
weights, images/s) goes to `--trace`, one file per process.

`--reference` trains in one process on the same global batches a
`--num-processes P` run sees: batch k is shares 0..P-1's batch k side by side,
each share augmented by its own augmenter seeded as that process seeds it.
"""

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np


class RecordingAugmenter:
    """Delegates to an `ImageAugmenter`; records the rows and a digest of each batch."""

    draws_by_key = True

    def __init__(self, augmenter, rows, digests):
        self.augmenter = augmenter
        self.rows = rows
        self.digests = digests

    def augment_batch(self, images, key=None):
        self.rows[-1].extend(int(row) for row in images[:, 0, 0, 0])
        out = self.augmenter.augment_batch(images.astype("float32"), key=key)
        self.digests[-1].append(hashlib.sha1(out.tobytes()).hexdigest()[:12])
        return out


def build_parser():
    from pyimagesearch.distribute import add_gpu_arguments

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--trace", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default=None, help="checkpoint to resume from")
    parser.add_argument("--start-epoch", type=int, default=0)
    parser.add_argument("--resume", choices=["auto"], default=None,
                        help="resume from the last checkpoint in --output, if any")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--network", choices=["minivggnet", "shallownet"], default="minivggnet")
    parser.add_argument("--reference", type=int, default=0, metavar="P",
                        help="train in one process on the global batches of P processes")
    parser.add_argument("--say-epochs", action="store_true",
                        help="print 'epoch N ended' at each epoch's end")
    add_gpu_arguments(parser)
    return parser


def augmenter(seed):
    from pyimagesearch.augmentation import ImageAugmenter

    return ImageAugmenter(rotation_range=10, width_shift_range=0.1, horizontal_flip=True,
                          fill_mode="nearest", seed=seed)


def main(argv=None):
    args = build_parser().parse_args(argv)
    from pyimagesearch.distribute import configure_from_args

    dist = configure_from_args(args, dataset=args.db)  # the processes compare its build id
    print(f"[INFO] process {dist.process_id} pid {os.getpid()}", flush=True)

    import keras

    from pyimagesearch.callbacks import EpochCheckpoint, TrainingMonitor
    from pyimagesearch.io import HDF5DatasetGenerator
    from pyimagesearch.nn.conv import MiniVGGNet, ShallowNet
    from pyimagesearch.infra.signals import interrupt_requested
    from pyimagesearch.utils import load_checkpoint
    from pyimagesearch.utils.checkpoints import fit_resumed, resume_point

    start_batch = 0
    if args.resume == "auto" and resume_point(args.output) is not None:
        (args.model, args.start_epoch, start_batch) = resume_point(args.output)
        print(f"[INFO] process {dist.process_id} resumes at epoch {args.start_epoch}"
              + (f", batch {start_batch}" if start_batch else ""), flush=True)
    keras.utils.set_random_seed(args.seed)
    rows = [[]]  # rows fetched before the first epoch begins (Keras peeks at a batch)
    digests = [[]]

    def generator(batch_size):
        return HDF5DatasetGenerator(args.db, batch_size, classes=3, shuffle=True, seed=args.seed)

    if args.reference:
        shares = [generator(dist.batch_size).shard(p, args.reference)
                  for p in range(args.reference)]
        for (p, share) in enumerate(shares):
            share.aug = RecordingAugmenter(augmenter(args.seed + p), rows, digests)
            share.set_epoch(args.start_epoch)
        trainGen = SideBySide(shares)
    else:
        trainGen = dist.shard(generator(dist.batch_size))
        trainGen.aug = RecordingAugmenter(augmenter(args.seed + dist.process_id), rows, digests)
        trainGen.set_epoch(args.start_epoch)  # the resumed run continues the run's batches

    with dist.scope():
        if args.model is None:
            network = {"minivggnet": MiniVGGNet, "shallownet": ShallowNet}[args.network]
            model = network.build(16, 16, 3, 3)
            model.compile(loss="categorical_crossentropy", metrics=["accuracy"],
                          optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9))
        else:
            model = load_checkpoint(args.model, verbose=0)

    os.makedirs(args.trace, exist_ok=True)
    if dist.is_chief:
        os.makedirs(args.output, exist_ok=True)
    def new_epoch(epoch, logs):
        rows.append([])
        digests.append([])

    def epoch_end(epoch, logs):
        if args.say_epochs:
            print(f"[INFO] process {dist.process_id} epoch {epoch + 1} ended", flush=True)

    # PREEMPT_PAUSE_AT=EPOCH,BATCH (0-based): process 0 waits there for a stop signal (an
    # environment variable, so that the printed resume command does not pause again)
    pause = os.environ.get("PREEMPT_PAUSE_AT")
    pause = None if pause is None else tuple(map(int, pause.split(",")))
    state = {"epoch": args.start_epoch}

    def batch_end(batch, logs):
        if dist.is_chief and (state["epoch"], batch) == pause:
            print(f"[INFO] process 0 paused at epoch {pause[0]} batch {pause[1]}", flush=True)
            deadline = time.monotonic() + 120
            while interrupt_requested() is None and time.monotonic() < deadline:
                time.sleep(0.05)

    callbacks = [keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: (state.update(epoch=epoch), new_epoch(epoch, logs)),
        on_epoch_end=epoch_end, on_train_batch_end=batch_end)]
    callbacks += dist.chief_only([
        EpochCheckpoint(args.output, every=1, startAt=args.start_epoch),
        TrainingMonitor(os.path.join(args.output, "history.png"),
                        jsonPath=os.path.join(args.output, "history.json"),
                        startAt=args.start_epoch),
    ])
    began = time.perf_counter()
    with dist.guard(checkpoints=args.output):
        # the generator orders the batches from (seed, epoch); Keras' own shuffle
        # (Python's global generator) would not continue in a resumed run
        # a mid-epoch checkpoint (a preemption) resumes at its batch
        H = fit_resumed(model, trainGen, epochs=args.epochs, initial_epoch=args.start_epoch,
                        initial_batch=start_batch, callbacks=callbacks, verbose=0,
                        shuffle=False)
    seconds = time.perf_counter() - began
    dist.save(model, os.path.join(args.output, "model.keras"))

    weights = np.concatenate([np.ravel(w) for w in model.get_weights()])
    np.save(os.path.join(args.trace, f"weights_{dist.process_id}.npy"), weights)
    trace = {"loss": H.history["loss"], "rows": rows[1:], "digests": digests[1:],
             "seconds": seconds, "start_epoch": args.start_epoch,
             "steps": len(trainGen) * (args.epochs - args.start_epoch),
             "batch_size": dist.batch_size,
             "longest_silence": getattr(dist.watch, "longest_silence", None)}
    with open(os.path.join(args.trace, f"trace_{dist.process_id}.json"), "w") as f:
        json.dump(trace, f)
    print(f"[INFO] process {dist.process_id} done", flush=True)


class SideBySide:
    """A dataset whose batch k is its datasets' batches k concatenated."""

    def __new__(cls, datasets):
        import keras

        class _SideBySide(keras.utils.PyDataset):
            def __init__(self):
                super().__init__()
                self.datasets = datasets

            def __len__(self):
                return len(self.datasets[0])

            def __getitem__(self, index):
                parts = [dataset[index] for dataset in self.datasets]
                return tuple(np.concatenate(items) for items in zip(*parts))

            def on_epoch_end(self):
                for dataset in self.datasets:
                    dataset.on_epoch_end()

        return _SideBySide()


if __name__ == "__main__":
    sys.exit(main())
