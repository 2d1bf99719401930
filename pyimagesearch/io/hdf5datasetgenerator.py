"""HDF5DatasetGenerator: batches of preprocessed rows and labels from an HDF5 file."""

import copy
import math
import os

import h5py
import keras
import numpy as np

from pyimagesearch.io.buildid import FILE_ID, check_siblings
from pyimagesearch.io.sharedbatch import as_shared_batch, clean_at_exit, shared_memory_available
from pyimagesearch.preprocessing.chain import apply_preprocessors, draws_by_key
from pyimagesearch.utils.processrng import RandomSource


class HDF5DatasetGenerator(keras.utils.PyDataset):
    """Streams `(images, labels)` batches from a file written by `HDF5DatasetWriter`.

    A `keras.utils.PyDataset`, so `model.fit(trainGen, validation_data=valGen)`
    and `model.predict(testGen)` take it directly, with `workers` and
    `use_multiprocessing`. The HDF5 file is opened lazily in each process.
    The book's `generator(passes=np.inf)`, `numImages`, `db` and `close()` are
    kept.

    Every row is served exactly once per epoch, the last partial batch
    included, in the file's order unless `shuffle=True`.

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
    preprocessing of several batches; h5py serialises the reads themselves.

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
        workers: passed to `keras.utils.PyDataset`.
        use_multiprocessing: passed to `keras.utils.PyDataset`.
        max_queue_size: passed to `keras.utils.PyDataset`.
        shared_memory: with `use_multiprocessing=True`, workers hand image
            batches back through `/dev/shm` instead of pickles through a
            pipe (Linux; see `pyimagesearch.io.sharedbatch`).

    Raises:
        FileNotFoundError: `dbPath` does not exist.
        ValueError: bad `batchSize` or `classes`, a dataset missing from the
            file, labels that are not 1-D integers in `[0, classes)`, sibling
            files of another build, an `aug` without `augment_batch`, or
            `shared_memory=True` without `use_multiprocessing=True` or
            without `/dev/shm`.
        OSError: the file is not HDF5 or its labels fail their checksum.
    """

    def __init__(self, dbPath, batchSize, preprocessors=None, aug=None,
                 binarize=True, classes=2, dataKey="images", shuffle=False,
                 seed=None, workers=1, use_multiprocessing=False, max_queue_size=10,
                 shared_memory=False):
        super().__init__(
            workers=workers, use_multiprocessing=use_multiprocessing,
            max_queue_size=max_queue_size,
        )
        dbPath = os.fspath(dbPath)
        if not os.path.isfile(dbPath):
            raise FileNotFoundError(f"dbPath {dbPath!r} does not exist.")
        if isinstance(batchSize, bool) or not isinstance(batchSize, (int, np.integer)) or batchSize < 1:
            raise ValueError(f"batchSize must be a positive integer, got {batchSize!r}.")
        if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or classes < 1:
            raise ValueError(f"classes must be a positive integer, got {classes!r}.")
        if aug is not None and not callable(getattr(aug, "augment_batch", None)):
            raise ValueError(
                f"aug must have an augment_batch(images) method, got {type(aug).__name__}."
            )
        if shared_memory and not (use_multiprocessing and shared_memory_available()):
            raise ValueError(
                "shared_memory=True needs use_multiprocessing=True and a writable /dev/shm "
                f"(Linux); got use_multiprocessing={use_multiprocessing!r}."
            )
        self.shared_memory = bool(shared_memory)
        self._owner_pid = os.getpid()
        if self.shared_memory:
            clean_at_exit(self._owner_pid)
        self.dbPath = dbPath
        self.batchSize = int(batchSize)
        self.preprocessors = list(preprocessors) if preprocessors else []
        self.aug = aug
        self.binarize = binarize
        self.classes = int(classes)
        self.dataKey = dataKey
        self.shuffle = shuffle
        self.seed = seed
        self._db = None
        self._pid = None

        with _open(dbPath) as db:
            self._source = self._identity(db)
            check_siblings(dbPath, db)
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
        start, stop = self._batch_rows(int(self._order[index]))
        images = _read(self.dbPath, self.db[self.dataKey], slice(start, stop), self.dataKey)
        labels = self._labels[start:stop]
        key = (self.epoch, index % len(self))
        images = apply_preprocessors(images, self.preprocessors, key=key)
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
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}.")
        self.epoch = int(epoch)
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
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}.")
        if self.batchSize % count:
            raise ValueError(
                f"count={count} must divide batchSize={self.batchSize}: every share "
                f"reads batchSize // count rows of each batch."
            )
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < count:
            raise ValueError(f"index must be an integer in [0, {count}), got {index!r}.")
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
        part.batchSize = step
        part.numImages = int(sum(sizes))
        part._bounds = np.column_stack([starts, np.add(starts, sizes)]).astype("int64")
        part._order = part._new_order()
        return part

    def close(self):
        """Closes the HDF5 file (it reopens on next use)."""
        if self._db is not None and self._pid == os.getpid() and self._db.id.valid:
            self._db.close()
        self._db = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()
        return False

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_db"] = None
        state["_pid"] = None
        return state

    def __repr__(self):
        return (
            f"HDF5DatasetGenerator({self.dbPath!r}, batchSize={self.batchSize}, "
            f"numImages={self.numImages}, batches={len(self)})"
        )

    def _identity(self, db):
        """The file's id, or its identity on disk for files without one."""
        file_id = db.attrs.get(FILE_ID)
        if file_id is not None:
            return ("file_id", str(file_id))
        stat = os.stat(self.dbPath)
        return ("file", stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
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
        raise OSError(
            f"{path!r}: reading {name!r} failed ({error}); the file is corrupted "
            f"(a checksum does not match) or unreadable: rebuild it."
        ) from None
