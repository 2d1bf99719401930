"""HDF5 io against the book's algorithms, measured in the same run.

    python benchmarks/bench_hdf5.py [--images 256] [--build-images 400] [--repeat 2]

1. bytes on disk for 256x256x3 images: HDF5DatasetWriter (uint8) vs the book's
   writer (float64);
2. generator throughput, batch 64, random 227 patch + mean subtraction +
   to-array, no augmentation: HDF5DatasetGenerator (batched preprocess_batch
   on the uint8 file) vs the book's generator (per-image preprocess() with the
   book's PatchPreprocessor/MeanPreprocessor/ImageToArrayPreprocessor on its
   float64 file);
3. build throughput from a JPEG folder: build_hdf5_splits (one thread per
   core) vs the book's single-process build (imread + AspectAwarePreprocessor +
   float64 writer), and vs build_hdf5_splits(workers=1);
4. the generator through model.predict at workers=2 vs workers=1 (threads
   and processes), with a near-free model so the data side dominates;
5. the cost of the checksums (HDF5's fletcher32, and the writer's CRC32 per
   chunk that the memory map verifies): HDF5DatasetWriter, a plain
   HDF5DatasetGenerator pass (batch 64, no preprocessing, file in the page
   cache) and the generator with the patch + mean + to-array pipeline of 2,
   with checksum=True (the default) vs checksum=False.

Every timing is the best of --repeat runs. Images are synthetic (smooth
gradients, shapes and mild noise, so JPEG sizes are photo-like).
"""

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import cv2  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402

from pyimagesearch.io import HDF5DatasetWriter, build_hdf5_splits  # noqa: E402


# --- the book's algorithms (Practitioner Bundle, Keras 2 era), re-implemented -------------

class BookHDF5DatasetWriter:
    def __init__(self, dims, outputPath, dataKey="images", bufSize=1000):
        self.db = h5py.File(outputPath, "w")
        self.data = self.db.create_dataset(dataKey, dims, dtype="float")
        self.labels = self.db.create_dataset("labels", (dims[0],), dtype="int")
        self.bufSize = bufSize
        self.buffer = {"data": [], "labels": []}
        self.idx = 0

    def add(self, rows, labels):
        self.buffer["data"].extend(rows)
        self.buffer["labels"].extend(labels)
        if len(self.buffer["data"]) >= self.bufSize:
            self.flush()

    def flush(self):
        i = self.idx + len(self.buffer["data"])
        self.data[self.idx:i] = self.buffer["data"]
        self.labels[self.idx:i] = self.buffer["labels"]
        self.idx = i
        self.buffer = {"data": [], "labels": []}

    def close(self):
        if len(self.buffer["data"]) > 0:
            self.flush()
        self.db.close()


class BookPatchPreprocessor:
    def __init__(self, width, height):
        self.width, self.height = width, height

    def preprocess(self, image):
        from sklearn.feature_extraction.image import extract_patches_2d

        return extract_patches_2d(image, (self.height, self.width), max_patches=1)[0]


class BookMeanPreprocessor:
    def __init__(self, rMean, gMean, bMean):
        self.rMean, self.gMean, self.bMean = rMean, gMean, bMean

    def preprocess(self, image):
        (B, G, R) = cv2.split(image.astype("float32"))
        R -= self.rMean
        G -= self.gMean
        B -= self.bMean
        return cv2.merge([B, G, R])


class BookImageToArrayPreprocessor:
    def preprocess(self, image):
        from keras.utils import img_to_array

        return img_to_array(image)


class BookAspectAwarePreprocessor:
    def __init__(self, width, height, inter=cv2.INTER_AREA):
        self.width, self.height, self.inter = width, height, inter

    def preprocess(self, image):
        import imutils

        (h, w) = image.shape[:2]
        dW = dH = 0
        if w < h:
            image = imutils.resize(image, width=self.width, inter=self.inter)
            dH = int((image.shape[0] - self.height) / 2.0)
        else:
            image = imutils.resize(image, height=self.height, inter=self.inter)
            dW = int((image.shape[1] - self.width) / 2.0)
        (h, w) = image.shape[:2]
        image = image[dH:h - dH, dW:w - dW]
        return cv2.resize(image, (self.width, self.height), interpolation=self.inter)


def book_generator(dbPath, batchSize, preprocessors, classes, passes=1):
    from keras.utils import to_categorical

    db = h5py.File(dbPath, "r")
    numImages = db["labels"].shape[0]
    for _ in range(passes):
        for i in np.arange(0, numImages, batchSize):
            images = db["images"][i:i + batchSize]
            labels = to_categorical(db["labels"][i:i + batchSize], classes)
            procImages = []
            for image in images:
                for p in preprocessors:
                    image = p.preprocess(image)
                procImages.append(image)
            yield np.array(procImages), labels
    db.close()


def book_build(paths, labels, outputPath, size):
    aap = BookAspectAwarePreprocessor(size, size)
    writer = BookHDF5DatasetWriter((len(paths), size, size, 3), outputPath)
    (R, G, B) = ([], [], [])
    for path, label in zip(paths, labels):
        image = aap.preprocess(cv2.imread(path))
        (b, g, r) = cv2.mean(image)[:3]
        R.append(r)
        G.append(g)
        B.append(b)
        writer.add([image], [label])
    writer.close()
    return {"R": np.mean(R), "G": np.mean(G), "B": np.mean(B)}


# --- synthetic data ----------------------------------------------------------------------

def synthetic_image(rng, height, width):
    y, x = np.mgrid[0:height, 0:width].astype("float32")
    image = np.empty((height, width, 3), "float32")
    for c in range(3):
        fx, fy, phase = rng.uniform(0.005, 0.03, 2).tolist() + [rng.uniform(0, 6.28)]
        image[..., c] = 127 + 80 * np.sin(fx * x + fy * y + phase)
    for _ in range(4):
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        color = [int(v) for v in rng.integers(0, 256, 3)]
        cv2.circle(image, center, int(rng.integers(10, min(height, width) // 3)), color, -1)
    image += rng.normal(0, 6, image.shape).astype("float32")
    return np.clip(image, 0, 255).astype("uint8")


def best_of(repeat, function):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


# --- the benchmarks ----------------------------------------------------------------------

def bench_bytes_and_generator(folder, count, repeat):
    from pyimagesearch.io import HDF5DatasetGenerator
    from pyimagesearch.preprocessing import (ImageToArrayPreprocessor, MeanPreprocessor,
                                             PatchPreprocessor)

    rng = np.random.default_rng(0)
    images = np.stack([synthetic_image(rng, 256, 256) for _ in range(count)])
    labels = np.arange(count) % 2
    book_path = os.path.join(folder, "book.hdf5")
    ours_path = os.path.join(folder, "ours.hdf5")
    book = BookHDF5DatasetWriter((count, 256, 256, 3), book_path)
    ours = HDF5DatasetWriter((count, 256, 256, 3), ours_path)
    for image, label in zip(images, labels):
        book.add([image], [label])
        ours.add([image], [label])
    book.close()
    ours.close()
    book_bytes, ours_bytes = os.path.getsize(book_path), os.path.getsize(ours_path)
    print(f"bytes on disk, {count} images 256x256x3: book {book_bytes / 2**20:.1f} MiB, "
          f"ours {ours_bytes / 2**20:.1f} MiB -> ours = 1/{book_bytes / ours_bytes:.1f} of the book's")

    means = (124.0, 117.0, 104.0)
    book_pre = [BookPatchPreprocessor(227, 227), BookMeanPreprocessor(*means),
                BookImageToArrayPreprocessor()]
    ours_pre = [PatchPreprocessor(227, 227, seed=0), MeanPreprocessor(*means),
                ImageToArrayPreprocessor()]

    def run_book():
        for _ in book_generator(book_path, 64, book_pre, 2):
            pass

    def run_ours():
        with HDF5DatasetGenerator(ours_path, 64, preprocessors=ours_pre, classes=2) as gen:
            for _ in gen.generator(passes=1):
                pass

    t_book, t_ours = best_of(repeat, run_book), best_of(repeat, run_ours)
    print(f"generator, batch 64, patch 227 + mean + to-array: book {count / t_book:.0f} img/s, "
          f"ours {count / t_ours:.0f} img/s -> {t_book / t_ours:.1f}x")

    import keras

    model = keras.Sequential([keras.Input((227, 227, 3)), keras.layers.GlobalAveragePooling2D()])

    def predict(workers, processes):
        gen = HDF5DatasetGenerator(ours_path, 64, preprocessors=ours_pre, classes=2,
                                   workers=workers, use_multiprocessing=processes)
        return lambda: model.predict(gen, verbose=0)

    predict(1, False)()  # warm-up: traces the predict function
    t1 = best_of(repeat, predict(1, False))
    t2 = best_of(repeat, predict(2, False))
    t2p = best_of(repeat, predict(2, True))
    print(f"model.predict(generator): workers=1 {count / t1:.0f} img/s, workers=2 threads "
          f"{count / t2:.0f} img/s ({t1 / t2:.2f}x), workers=2 processes {count / t2p:.0f} img/s "
          f"({t1 / t2p:.2f}x)")
    return {"bytes": book_bytes / ours_bytes, "generator": t_book / t_ours,
            "workers2_threads": t1 / t2, "workers2_processes": t1 / t2p}


def bench_build(folder, count, repeat):
    rng = np.random.default_rng(1)
    root = os.path.join(folder, "jpegs")
    os.makedirs(root)
    paths = []
    for i in range(count):
        height, width = (375, 500) if i % 3 else (500, 375)
        path = os.path.join(root, f"{'cat' if i % 2 else 'dog'}.{i}.jpg")
        cv2.imwrite(path, synthetic_image(rng, height, width), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    labels = [i % 2 for i in range(count)]
    size = 256
    cores = os.cpu_count() or 1

    def run_book():
        book_build(paths, labels, os.path.join(folder, "book_build.hdf5"), size)

    def run_ours(workers):
        def build():
            out = os.path.join(folder, f"ours_build_{workers}")
            shutil.rmtree(out, ignore_errors=True)
            build_hdf5_splits(root, out, label_from="prefix", size=size, val_size=0,
                              test_size=0, workers=workers, verbose=False)
        return build

    t_book = best_of(repeat, run_book)
    t_one = best_of(repeat, run_ours(1))
    t_all = best_of(repeat, run_ours(cores))
    print(f"build, {count} JPEGs 500x375 -> 256x256: book (1 process, float64) "
          f"{count / t_book:.0f} img/s, ours workers=1 {count / t_one:.0f} img/s, "
          f"ours workers={cores} {count / t_all:.0f} img/s -> {t_book / t_all:.2f}x the book, "
          f"{t_one / t_all:.2f}x workers=1")
    return {"build_vs_book": t_book / t_all, "build_vs_one": t_one / t_all}


def bench_checksum(folder, count, repeat):
    from pyimagesearch.io import HDF5DatasetGenerator
    from pyimagesearch.preprocessing import (ImageToArrayPreprocessor, MeanPreprocessor,
                                             PatchPreprocessor)

    rng = np.random.default_rng(2)
    images = np.stack([synthetic_image(rng, 256, 256) for _ in range(count)])
    labels = np.arange(count) % 2
    pipeline = [PatchPreprocessor(227, 227, seed=0), MeanPreprocessor(124.0, 117.0, 104.0),
                ImageToArrayPreprocessor()]

    def write(checksum):
        path = os.path.join(folder, f"checksum_{checksum}.hdf5")
        with HDF5DatasetWriter((count, 256, 256, 3), path, overwrite=True,
                               checksum=checksum) as writer:
            writer.add(images, labels)

    def read(checksum, preprocessors, read_path="auto"):
        with HDF5DatasetGenerator(os.path.join(folder, f"checksum_{checksum}.hdf5"), 64,
                                  preprocessors=preprocessors, classes=2, read_path=read_path) as gen:
            for _ in gen.generator(passes=1):
                pass

    # with and without alternate, so that a busy machine slows both alike
    cases = {"write": lambda on: write(on), "read": lambda on: read(on, None),
             "pipeline": lambda on: read(on, pipeline),
             "read_h5py": lambda on: read(on, None, "h5py")}
    times = {(case, on): [] for case in cases for on in (True, False)}
    for _ in range(repeat):
        for case, run in cases.items():
            for on in (True, False):
                times[case, on].append(best_of(1, lambda: run(on)))
    cost = {case: min(times[case, True]) / min(times[case, False]) for case in cases}
    rate = {key: count / min(value) for key, value in times.items()}
    print(f"checksums, {count} images 256x256x3, with against without: write "
          f"{rate['write', True]:.0f} against {rate['write', False]:.0f} img/s ({cost['write']:.2f}x "
          f"the time); plain generator pass {rate['read', True]:.0f} against "
          f"{rate['read', False]:.0f} img/s ({cost['read']:.2f}x); generator with patch 227 + "
          f"mean + to-array {rate['pipeline', True]:.0f} against {rate['pipeline', False]:.0f} "
          f"img/s ({cost['pipeline']:.2f}x); default read path (memory map, the writer's CRC32, "
          f"every chunk verified in a new generator); through h5py (fletcher32 inside HDF5) "
          f"a plain pass {rate['read_h5py', True]:.0f} against {rate['read_h5py', False]:.0f} "
          f"img/s ({cost['read_h5py']:.2f}x)")
    return {f"checksum_{case}_cost": value for case, value in cost.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=256,
                        help="256x256 images for the bytes and generator runs (default: 256)")
    parser.add_argument("--build-images", type=int, default=400,
                        help="JPEGs for the build run (default: 400)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per timing, best kept (default: 2)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="bench_hdf5_") as folder:
        results = bench_bytes_and_generator(folder, args.images, args.repeat)
        results.update(bench_build(folder, args.build_images, args.repeat))
        results.update(bench_checksum(folder, args.images, max(args.repeat, 5)))
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    print("ratios: " + ", ".join(f"{k}={v:.2f}" for k, v in results.items()))


if __name__ == "__main__":
    main()
