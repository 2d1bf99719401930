"""rank5_accuracy against the book's per-row loop, measured in the same run.

Usage: python benchmarks/bench_ranked.py [--rows 10000] [--classes 200] [--repeat 5]
"""

import argparse
import time

import numpy as np

from pyimagesearch.utils.ranked import rank5_accuracy


def book_rank5_accuracy(preds, labels):
    """Chapter 4's rank5_accuracy: one argsort per row in a Python loop."""
    rank1 = 0
    rank5 = 0
    for p, gt in zip(preds, labels):
        p = np.argsort(p)[::-1]
        if gt in p[:5]:
            rank5 += 1
        if gt == p[0]:
            rank1 += 1
    return rank1 / float(len(labels)), rank5 / float(len(labels))


def best_time(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    labels = rng.integers(0, args.classes, args.rows)
    uniform = rng.random((args.rows, args.classes)).astype("float32")
    # a trained model's scores: the true class on top for about 70% of the rows
    trained = uniform.copy()
    trained[np.arange(args.rows), labels] += rng.choice([0.0, 1.0], size=args.rows, p=[0.3, 0.7])
    print(f"rank5_accuracy on {args.rows} x {args.classes} predictions (best of {args.repeat})")
    for name, preds in (("random scores", uniform), ("trained-like scores", trained)):
        assert np.allclose(rank5_accuracy(preds, labels), book_rank5_accuracy(preds, labels))
        book = best_time(lambda: book_rank5_accuracy(preds, labels), args.repeat)
        ours = best_time(lambda: rank5_accuracy(preds, labels), args.repeat)
        print(f"  {name:<20} book loop {book * 1000:7.1f} ms, vectorised {ours * 1000:6.1f} ms, "
              f"speed-up {book / ours:5.1f}x  (target >= 20x)")

if __name__ == "__main__":
    main()
