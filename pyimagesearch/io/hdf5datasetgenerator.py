"""HDF5DatasetGenerator: batches of preprocessed rows and labels from an HDF5 file."""

import copy
import math
import os
import weakref

import h5py
import keras
import numpy as np

from pyimagesearch.io.readpath.batchmemory import BatchMemory
from pyimagesearch.io.buildid import FILE_ID, check_metadata, metadata_errors
from pyimagesearch.io.readpath.chunkreader import ChunkReader, layout_problem
from pyimagesearch.io.sharedbatch import as_shared_batch, clean_at_exit, remove_orphans, shared_memory_available
from pyimagesearch.io.workerpool import WorkerPool
from pyimagesearch.preprocessing.chain import apply_preprocessors, draws_by_key
from pyimagesearch.preprocessing.patchpreprocessor import PatchPreprocessor
from pyimagesearch.infra.processrng import RandomSource
from pyimagesearch.infra.publish import finish_publish
from pyimagesearch.infra.validation import check_choice, check_int


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
    compressed) rows are copied from a memory map of the file, outside h5py's
    global lock, so threads read in parallel; each chunk's checksum (the
    CRC32 the writer stored, or in older files HDF5's `fletcher32`) is
    verified the first time this process reads it after opening the file.
    Any other layout is read through h5py. `read_path` says which, and
    `repr` says which checksum.

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
        read_path: "auto" (the memory map when the layout allows, else
            h5py), "mmap" (the memory map, or an error saying why not) or
            "h5py" (every read through h5py, the library's reader before
            the memory map).

    Raises:
        FileNotFoundError: `dbPath` does not exist.
        ValueError: bad `batchSize` or `classes`, a dataset missing from the
            file, labels that are not 1-D integers in `[0, classes)`, sibling
            files of another build, an `aug` without `augment_batch`, or
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
        dbPath = os.fspath(dbPath)
        finish_publish(os.path.dirname(os.path.abspath(dbPath)))  # a killed build's publish
        if not os.path.isfile(dbPath):
            raise FileNotFoundError(f"dbPath {dbPath!r} does not exist.")
        batchSize = check_int(batchSize, "batchSize")
        classes = check_int(classes, "classes")
        if aug is not None and not callable(getattr(aug, "augment_batch", None)):
            raise ValueError(
                f"aug must have an augment_batch(images) method, got {type(aug).__name__}."
            )
        check_choice(read_path, "read_path", ("auto", "mmap", "h5py"))
        if shared_memory and not (use_multiprocessing and shared_memory_available()):
            raise ValueError(
                "shared_memory=True needs use_multiprocessing=True and a writable /dev/shm "
                f"(Linux); got use_multiprocessing={use_multiprocessing!r}."
            )
        self.shared_memory = bool(shared_memory)
        self._owner_pid = os.getpid()
        if self.shared_memory:
            remove_orphans()
            clean_at_exit(self._owner_pid)
        self.processes = int(workers) if use_multiprocessing else 0
        self.dbPath = dbPath
        self.batchSize = batchSize
        self.preprocessors = list(preprocessors) if preprocessors else []
        self.aug = aug
        self.binarize = binarize
        self.classes = classes
        self.dataKey = dataKey
        self.shuffle = shuffle
        self.seed = seed
        self._db = None
        self._pid = None
        self._reader = None

        with _open(dbPath) as db, metadata_errors(dbPath):
            self._source = self._identity(db)
            check_metadata(dbPath, db)
            for key in (dataKey, "labels"):
                if key not in db:
                    raise ValueError(
                        f"{dbPath!r} has no dataset {key!r} (dataKey={dataKey!r}); "
                        f"it holds {sorted(db.keys())}."
                    )
            if len(db[dataKey]) != len(db["labels"]):
                raise ValueError(
                    f"{dbPath!r} holds {len(db[dataKey])} rows in {dataKey!r} but "
                    f"{len(db['labels'])} labels."
                )
            labels = db["labels"]
            if labels.ndim != 1 or labels.dtype.kind not in "iu":
                raise ValueError(
                    f"{dbPath!r} holds labels of dtype {labels.dtype} and shape "
                    f"{labels.shape}; expected 1-D integers (one class index per row)."
                )
            self._labels = _read(dbPath, labels, slice(None), "labels")
            self.read_path, self.read_path_reason = _choose_read_path(db[dataKey], read_path, dbPath)
        bad = (self._labels < 0) | (self._labels >= self.classes)
        if bad.any():
            raise ValueError(
                f"{dbPath!r} holds label {self._labels[bad][0]} outside [0, classes) "
                f"with classes={self.classes}."
            )
        self._bounds = None
        self.numImages = len(self._labels)
        self._rng = RandomSource(seed)
        self.epoch = 0
        self._order = self._new_order()
        self._pool = self._new_pool()

    @property
    def db(self):
        """The open `h5py.File`, opened on first use in the current process.

        Raises:
            ValueError: the file is no longer the one this generator was built on.
        """
        if self._db is None or self._pid != os.getpid() or not self._db.id.valid:
            db = _open(self.dbPath)
            if self._identity(db) != self._source:
                db.close()
                raise ValueError(
                    f"{self.dbPath!r} was replaced after this generator read its "
                    f"labels (another build or file is there now); create a new "
                    f"HDF5DatasetGenerator to read the new file."
                )
            self._db = db
            self._pid = os.getpid()
            self._reader = None
        return self._db

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
        if self._pool is not None and os.getpid() == self._owner_pid:
            return self._pool.run(task, f"batch {index} (rows {':'.join(map(str, self._batch_rows(batch)))})")
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
        part._db = None
        part._pid = None
        part._reader = None
        part.batchSize = step
        part.numImages = int(sum(sizes))
        part._bounds = np.column_stack([starts, np.add(starts, sizes)]).astype("int64")
        part._order = part._new_order()
        part._pool = part._new_pool()
        return part

    def close(self):
        """Closes the HDF5 file (it reopens on next use) and stops the worker processes."""
        if self._pool is not None and os.getpid() == self._owner_pid:
            self._pool.close()
            self._pool = self._new_pool()
        if self._db is not None and self._pid == os.getpid() and self._db.id.valid:
            self._db.close()
        self._db = None
        self._reader = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()
        return False

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_db"] = None
        state["_pid"] = None
        state["_reader"] = None
        state["_pool"] = None
        return state

    def __repr__(self):
        return (
            f"HDF5DatasetGenerator({self.dbPath!r}, batchSize={self.batchSize}, "
            f"numImages={self.numImages}, batches={len(self)}, "
            f"read_path={self.read_path!r}{self.read_path_reason})"
        )

    def _identity(self, db):
        """The file's id, or its identity on disk for files without one."""
        file_id = db.attrs.get(FILE_ID)
        if file_id is not None:
            return ("file_id", str(file_id))
        stat = os.stat(self.dbPath)
        return ("file", stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _read_rows(self, start, stop, key=None):
        """Rows `[start, stop)` from the memory map or through h5py, and the preprocessors left to run.

        On the map, a leading `PatchPreprocessor` of a batch chain is applied
        as the rows are copied (its own random offsets, drawn as its
        `preprocess_batch` draws them): the patch is the batch's only copy.
        """
        db = self.db  # (re)opens the file and checks it is the same one
        if self.read_path == "h5py":
            rows = _read(self.dbPath, db[self.dataKey], slice(start, stop), self.dataKey)
            return rows, self.preprocessors
        reader = self._reader
        if reader is None:  # the map of this process's file handle, made after any fork
            # idle batch buffers for every batch Keras may hold: its queue and its workers'
            memory = BatchMemory(keep=self.max_queue_size + self.workers + 1)
            reader = self._reader = ChunkReader(db[self.dataKey], memory)
        (window, preprocessors) = (None, self.preprocessors)
        if _patch_first(preprocessors, reader.shape):
            patch = preprocessors[0]
            ys, xs = patch._offsets(reader.shape[1:], stop - start, key)
            (window, preprocessors) = ((ys, xs, patch.height, patch.width), preprocessors[1:])
        try:
            return reader.read(start, stop, window), preprocessors
        except OSError as error:
            raise _read_error(self.dbPath, self.dataKey, error) from None

    def _new_pool(self):
        if not self.processes:
            return None
        pool = WorkerPool(self, self.processes, repr(self))
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


def _open(path):
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise type(error)(f"cannot open {path!r} as an HDF5 file: {error}") from None


def _read(path, dataset, rows, name):
    """Reads `dataset[rows]`, naming the file when a checksum or read fails."""
    try:
        return dataset[rows]
    except OSError as error:
        raise _read_error(path, name, error) from None


def _patch_first(preprocessors, shape):
    """Whether the chain runs batch-wise and starts with the library's own `PatchPreprocessor`."""
    return (
        bool(preprocessors)
        and type(preprocessors[0]) is PatchPreprocessor
        and len(shape) in (3, 4)
        and all(callable(getattr(p, "preprocess_batch", None)) for p in preprocessors)
    )


def _read_error(path, name, error):
    return OSError(
        f"{path!r}: reading {name!r} failed ({error}); the file is corrupted "
        f"(a checksum does not match) or unreadable: rebuild it."
    )


def _choose_read_path(dataset, requested, path):
    """("mmap" or "h5py", the repr's note: the map's checksum, or why h5py) for `read_path=requested`."""
    if requested == "h5py":
        return "h5py", " (requested)"
    problem = layout_problem(dataset)
    if problem is None:
        try:
            checksum = ChunkReader(dataset).checksum
        except ValueError as error:
            problem = str(error)
    if problem is None:
        return "mmap", f" (chunks verified by {checksum})" if checksum else " (no checksums)"
    if requested == "mmap":
        raise ValueError(f"read_path='mmap' cannot read {path!r}: {problem}.")
    return "h5py", f" ({problem})"
