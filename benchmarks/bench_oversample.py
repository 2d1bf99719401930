"""predict_oversampled against the book's per-image loop, measured in the same run.

Chapter 10's crop_accuracy.py crops each image into 10, preprocesses the
crops and calls `model.predict` once per image; `predict_oversampled` predicts
the crops of many images per batch. Both score the same images with the same
MiniVGGNet (random weights) and must agree. The default is MiniVGGNet's
CIFAR-10 scale (32x32 crops). On a CPU, larger crops make the forward pass
itself dominate and the ratio shrinks (72x72 images, 64x64 crops: about 2.5x);
on a GPU the per-call overhead the loop pays dominates.

Usage: python benchmarks/bench_oversample.py [--images 96] [--size 40] [--crop 32]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402


def book_crop_predictions(model, images, cropper, preprocessors):
    """crop_accuracy.py: one model.predict per image over its 10 crops."""
    predictions = []
    for image in images:
        crops = cropper.preprocess(image)
        for p in preprocessors:
            crops = np.array([p.preprocess(c) for c in crops], dtype="float32")
        predictions.append(model.predict(crops, verbose=0).mean(axis=0))
    return np.array(predictions)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--size", type=int, default=40, help="image side (default: 40)")
    parser.add_argument("--crop", type=int, default=32, help="crop side (default: 32)")
    parser.add_argument("--batch-size", type=int, default=160)
    args = parser.parse_args()

    from pyimagesearch.nn.conv import MiniVGGNet
    from pyimagesearch.preprocessing import CropPreprocessor, ImageToArrayPreprocessor, MeanPreprocessor
    from pyimagesearch.utils import predict_oversampled

    rng = np.random.default_rng(0)
    images = (rng.random((args.images, args.size, args.size, 3)) * 255).astype("uint8")
    model = MiniVGGNet.build(width=args.crop, height=args.crop, depth=3, classes=10)
    cropper = CropPreprocessor(args.crop, args.crop)
    preprocessors = [MeanPreprocessor(124.0, 116.0, 104.0), ImageToArrayPreprocessor()]
    # warm up both paths (graph tracing) before timing
    book_crop_predictions(model, images[:2], cropper, preprocessors)
    predict_oversampled(model, images[:2], cropper, preprocessors, batch_size=args.batch_size)

    start = time.perf_counter()
    expected = book_crop_predictions(model, images, cropper, preprocessors)
    book = time.perf_counter() - start
    start = time.perf_counter()
    got = predict_oversampled(model, images, cropper, preprocessors, batch_size=args.batch_size)
    ours = time.perf_counter() - start

    print(f"{args.images} images {args.size}x{args.size}, 10 crops of {args.crop}x{args.crop}, MiniVGGNet, CPU")
    print(f"book per-image loop:  {book:7.2f} s  ({args.images / book:7.1f} images/s)")
    print(f"predict_oversampled:  {ours:7.2f} s  ({args.images / ours:7.1f} images/s)")
    print(f"speed-up: {book / ours:.1f}x   max |difference|: {np.abs(got - expected).max():.2g}")


if __name__ == "__main__":
    main()
