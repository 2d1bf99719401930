"""HDF5DatasetGenerator: batches of preprocessed rows and labels from an HDF5 file."""

import copy
import math
import os
import threading
import weakref

import keras
import numpy as np

from pyimagesearch.io.readpath.datasetfile import DatasetFile
from pyimagesearch.io.sharedbatch import as_shared_batch, clean_at_exit, remove_dead_segments, shared_memory_available
from pyimagesearch.io.workerpool import WorkerPool
from pyimagesearch.preprocessing.chain import apply_preprocessors, draws_by_key
from pyimagesearch.preprocessing.patchpreprocessor import PatchPreprocessor
from pyimagesearch.infra.processrng import RandomSource
from pyimagesearch.infra.validation import check_int

_POOL_START = threading.Lock()  # Keras' threads may ask for the first batch at once: one pool


class HDF5DatasetGenerator(keras.utils.PyDataset):
    """Streams `(images, labels)` batches from a file written by `HDF5DatasetWriter`.

    A `keras.utils.PyDataset`, so `model.fit(trainGen, validation_data=valGen)`
    and `model.predict(testGen)` take it directly, with `workers` and
    `use_multiprocessing`. The HDF5 file is opened lazily in each process.
    The book's `generator(passes=np.inf)`, `numImages`, `db` and `close()` are
    kept.

    Every row is served exactly once per epoch, the last partial batch
    included, in the file's order unless `shuffle=True`. Keras'
    `model.fit(gen)` reorders the batches of any `PyDataset` every epoch
    (its own `shuffle=True` default), whatever this `shuffle` says: pass
    `model.fit(gen, shuffle=False)` to train in the file's order, as the
    book's `fit_generator(gen.generator())` did. `predict` and `evaluate`
    keep the order.

    The generator never mixes two files: each (re)open, in this process or a
    worker, checks that the file is still the one it was built on (its
    `file_id`, or for files without one its identity on disk), and files
    built together by `build_hdf5_splits` must still be of one build.
    Batches keep the dtype the preprocessors and `aug` leave them in. The
    book's chain ends in float32; the opt-in uint8 path keeps only steps that
    stay uint8 (`PatchPreprocessor`, `CropPreprocessor`, `ImageAugmenter`,
    `ImageToArrayPreprocessor(dtype=None)`) and lets the model subtract the
    mean (`pyimagesearch.nn.layers.uint8_model`): a quarter of the bytes, and
    about a third of the host's work. `workers` threads overlap the
    preprocessing of several batches.

    For the files `HDF5DatasetWriter` writes (uint8 rows, chunked, not
    compressed) rows are read with positional reads straight into the batch,
    outside h5py's global lock, so threads read in parallel; each chunk's
    checksum (the CRC32 the writer stored, or in older files HDF5's
    `fletcher32`) is verified the first time this process reads it after
    opening the file. Any other layout is read through h5py. `read_path`
    says which, and `repr` says which checksum.

    The file is owned by a `pyimagesearch.io.readpath.DatasetFile` (the
    attribute `file`): creating the generator reads the file and writes
    nothing, takes no lock and starts nothing; the worker processes, the
    shared-memory clean-up and the exit hook come with the first batch.
    Every batch checks that the file has not changed since it was opened
    (size, modification time, inode): a file changed in place, truncated or
    replaced fails the batch in one line naming it.

    Args:
        dbPath: path of the HDF5 file.
        batchSize: rows per batch.
        preprocessors: preprocessors applied in order; through
            `preprocess_batch(images)` when all have it, else per image
            through `preprocess(image)`.
        aug: optional augmenter with `augment_batch(images)`, applied after
            the preprocessors.
        binarize: True for one-hot `float32` labels, False for integer labels
            (sparse losses).
        classes: number of classes.
        dataKey: the rows' dataset ("images", or "features").
        shuffle: whether to reshuffle the batch order every epoch.
        seed: seed of the batch order when `shuffle=True`: epoch `e`'s order
            is drawn from `(seed, e)`. Batch `b` of epoch `e` passes
            `key=(e, b)` to the preprocessors and `aug` that draw by key
            (`PatchPreprocessor`, `ImageAugmenter`), so a batch is the same
            whatever process computes it and after a resume (`set_epoch`).
        workers: passed to `keras.utils.PyDataset`: the number of threads
            (and, with `use_multiprocessing=True`, of worker processes).
        use_multiprocessing: compute batches in `workers` processes of the
            library's own (`pyimagesearch.io.workerpool`), which Keras'
            threads wait on: a worker that dies stops `fit`/`predict` at
            once with one line naming it and the batch, where Keras' own
            process pool would wait forever. Keras sees
            `use_multiprocessing=False`. The processes start at the first
            batch, keep the generator as it was then, and stop at
            `close()` or when the training process ends. They are forked,
            as Keras' were: preprocessors must not call the backend (JAX
            is not fork-safe).
        max_queue_size: passed to `keras.utils.PyDataset`.
        shared_memory: with `use_multiprocessing=True`, workers hand image
            batches back through `/dev/shm` instead of pickles through a
            pipe (Linux; see `pyimagesearch.io.sharedbatch`).
        read_path: "auto" (positional reads of the chunks when the layout
            allows, else h5py), "mmap" (positional reads of the chunks, or an
            error saying why not; the name is that of the library's first
            direct reader, a memory map) or "h5py" (every read through h5py).

    Raises:
        FileNotFoundError: `dbPath` does not exist.
        ValueError: bad `batchSize` or `classes`, a dataset missing from the
            file, labels that are not 1-D integers in `[0, classes)`, sibling
            files of another build, an unfinished publish in the file's
            folder, an `aug` without `augment_batch`, or
            `shared_memory=True` without `use_multiprocessing=True` or
            without `/dev/shm`, a bad `read_path`, or `read_path="mmap"` for
            a layout the memory map does not read.
        OSError: the file is not HDF5 or its labels fail their checksum.
    """

    def __init__(self, dbPath, batchSize, preprocessors=None, aug=None,
                 binarize=True, classes=2, dataKey="images", shuffle=False,
                 seed=None, workers=1, use_multiprocessing=False, max_queue_size=10,
                 shared_memory=False, read_path="auto"):
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=max_queue_size)
        self.batchSize = check_int(batchSize, "batchSize")
        if aug is not None and not callable(getattr(aug, "augment_batch", None)):
            raise ValueError(f"aug must have an augment_batch(images) method, got {type(aug).__name__}.")
        if shared_memory and not (use_multiprocessing and shared_memory_available()):
            raise ValueError(
                "shared_memory=True needs use_multiprocessing=True and a writable /dev/shm "
                f"(Linux); got use_multiprocessing={use_multiprocessing!r}.")
        # idle batch buffers for every batch Keras may hold: its queue and its workers'
        self.file = DatasetFile(dbPath, dataKey, classes, read_path, keep=self.max_queue_size + self.workers + 1)
        (self.dbPath, self.classes, self.dataKey) = (self.file.path, self.file.classes, dataKey)
        (self.read_path, self.read_path_reason) = (self.file.read_path, self.file.read_path_reason)
        self.preprocessors = list(preprocessors) if preprocessors else []
        (self.aug, self.binarize, self.shuffle, self.seed) = (aug, binarize, shuffle, seed)
        self.shared_memory = bool(shared_memory)
        self.processes = int(workers) if use_multiprocessing else 0
        (self._owner_pid, self._pool) = (os.getpid(), None)
        self._labels = self.file.labels
        self._bounds = None
        self.numImages = len(self._labels)
        self._rng = RandomSource(seed)
        self.epoch = 0
        self._order = self._new_order()

    @property
    def db(self):
        """The open `h5py.File`, opened on first use in the current process.

        Raises:
            ValueError: the file is no longer the one this generator was built on.
        """
        return self.file.db

    def __len__(self):
        if self._bounds is not None:
            return len(self._bounds)
        return math.ceil(self.numImages / self.batchSize)

    def __getitem__(self, index):
        """Returns batch `index` as `(images, labels)`.

        Raises:
            IndexError: `index` outside `[0, len(self))`.
        """
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches.")
        batch = int(self._order[index])
        task = (batch, (self.epoch, index % len(self)))  # the key travels: a worker's epoch is stale
        if self.processes and os.getpid() == self._owner_pid:
            pool = self._pool
            if pool is None:
                with _POOL_START:
                    pool = self._pool if self._pool is not None else self._start_pool()
            return pool.run(task, f"batch {index} (rows {':'.join(map(str, self._batch_rows(batch)))})")
        return self._make_batch(task)

    def _make_batch(self, task):
        """Reads and prepares `task = (file batch, (epoch, index) key)` (a worker process's task)."""
        (batch, key) = task
        start, stop = self._batch_rows(batch)
        images, preprocessors = self._read_rows(start, stop, key)
        labels = self._labels[start:stop]
        images = apply_preprocessors(images, preprocessors, key=key)
        if self.aug is not None:
            images = (self.aug.augment_batch(images, key=key) if draws_by_key(self.aug)
                      else self.aug.augment_batch(images))
        if self.binarize:
            labels = np.eye(self.classes, dtype="float32")[labels]
        if self.shared_memory and os.getpid() != self._owner_pid:
            images = as_shared_batch(images, self._owner_pid)
        return images, labels

    def on_epoch_end(self):
        """Starts the next epoch: its own batch order and random draws."""
        self.set_epoch(self.epoch + 1)

    def set_epoch(self, epoch):
        """Serves epoch `epoch` (0-based) next, as the uninterrupted run would.

        A run resumed from the checkpoint of epoch `k` calls `set_epoch(k)`
        before `model.fit(..., initial_epoch=k)`: with the same seeds, its
        batches (order, patches, augmentation) are the uninterrupted run's.

        Args:
            epoch: a non-negative integer.

        Raises:
            ValueError: `epoch` is not a non-negative integer.
        """
        self.epoch = check_int(epoch, "epoch", minimum=0)
        self._order = self._new_order()

    def generator(self, passes=np.inf):
        """Yields `(images, labels)` batches, the book's interface.

        Args:
            passes: number of passes over the data (endless by default).

        Yields:
            `(images, labels)` tuples.
        """
        epochs = 0
        while epochs < passes:
            for index in range(len(self)):
                yield self[index]
            epochs += 1
            self.on_epoch_end()

    def shard(self, index, count):
        """Returns one process's share of every batch, for multi-process training.

        This generator's batch `b` (rows `[b * batchSize, (b + 1) * batchSize)`
        in the file's order) is cut into `count` equal slices of
        `batchSize // count` rows; share `index` reads slice `index` of every
        batch. So the shares' batches, put together in share order, are this
        generator's batches: `count` processes each training on their share
        with the per-process batch `batchSize // count` train on the same
        global batches as one process with `batchSize`.

        Every share has the same number of batches of the same sizes, so no
        process waits for another in a collective. The last, partial batch of
        `r` rows gives each share `r // count` rows: the remainder of
        `r % count` rows (fewer than `count`, always the file's last rows) is
        dropped. With `shuffle=True` each share draws its batch order from
        `seed` as this generator does, so with a seed all shares follow the
        same order (each of its own rows) and a run is reproducible; with
        `seed=None` every process draws its own order.

        Args:
            index: which share, in `[0, count)` (the process id).
            count: number of shares (processes); it must divide `batchSize`.

        Returns:
            An `HDF5DatasetGenerator` over share `index`, with
            `batchSize // count` rows per batch.

        Raises:
            ValueError: bad `index` or `count`, `count` not dividing
                `batchSize`, a generator that is already a share, or fewer
                rows than `count`.
        """
        count = check_int(count, "count")
        if self.batchSize % count:
            raise ValueError(
                f"count={count} must divide batchSize={self.batchSize}: every share "
                f"reads batchSize // count rows of each batch."
            )
        index = check_int(index, "index", minimum=0, maximum=count - 1)
        if self._bounds is not None:
            raise ValueError("this generator is already a share; shard the whole generator.")
        if self.numImages < count:
            raise ValueError(
                f"{self.dbPath!r} has {self.numImages} rows, fewer than count={count} shares."
            )
        step = self.batchSize // count
        full, rest = divmod(self.numImages, self.batchSize)
        starts = [b * self.batchSize + index * step for b in range(full)]
        sizes = [step] * full
        if rest >= count:
            starts.append(full * self.batchSize + index * (rest // count))
            sizes.append(rest // count)
        part = copy.copy(self)
        part.file = self.file.detached()
        part._pool = None
        part.batchSize = step
        part.numImages = int(sum(sizes))
        part._bounds = np.column_stack([starts, np.add(starts, sizes)]).astype("int64")
        part._order = part._new_order()
        return part

    def close(self):
        """Closes the HDF5 file (it reopens on next use) and stops the worker processes."""
        if self._pool is not None and os.getpid() == self._owner_pid:
            self._pool.close()
            self._pool = None
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()
        return False

    def __getstate__(self):
        return dict(self.__dict__, _pool=None)

    def __repr__(self):
        return (
            f"HDF5DatasetGenerator({self.dbPath!r}, batchSize={self.batchSize}, "
            f"numImages={self.numImages}, batches={len(self)}, "
            f"read_path={self.read_path!r}{self.read_path_reason})"
        )

    def _read_rows(self, start, stop, key=None):
        """Rows `[start, stop)` read by the file's read path, and the preprocessors left to run.

        On the direct path, a leading `PatchPreprocessor` of a batch chain is
        applied as the rows are read (its own random offsets, drawn as its
        `preprocess_batch` draws them): the patch is the batch's only copy.
        """
        (window, preprocessors) = (None, self.preprocessors)
        if self.file.direct and _patch_first(preprocessors, self.file.shape):
            patch = preprocessors[0]
            ys, xs = patch._offsets(self.file.shape[1:], stop - start, key)
            (window, preprocessors) = ((ys, xs, patch.height, patch.width), preprocessors[1:])
        return self.file.read(start, stop, window), preprocessors

    def _start_pool(self):
        """The worker processes' pool, made at the first batch (with the shared memory's clean-up)."""
        if self.shared_memory:
            remove_dead_segments()
            clean_at_exit(self._owner_pid)
        pool = self._pool = WorkerPool(self, self.processes, repr(self))
        weakref.finalize(self, pool.close)
        return pool

    def _batch_rows(self, batch):
        if self._bounds is not None:
            return tuple(int(row) for row in self._bounds[batch])
        start = batch * self.batchSize
        return start, min(start + self.batchSize, self.numImages)

    def _new_order(self):
        if self.shuffle:
            return self._rng.at(self.epoch).permutation(len(self))
        return np.arange(len(self))


def _patch_first(preprocessors, shape):
    """Whether the chain runs batch-wise and starts with the library's own `PatchPreprocessor`."""
    return (
        bool(preprocessors)
        and type(preprocessors[0]) is PatchPreprocessor
        and len(shape) in (3, 4)
        and all(callable(getattr(p, "preprocess_batch", None)) for p in preprocessors)
    )
