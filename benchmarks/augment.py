"""Augmentation throughput: images per second, against the time of a training epoch it must stay under.

    python benchmarks/augment.py            # 3 repeats, medians
    python benchmarks/augment.py --json

Issue #14's bar: distorting an epoch of MNIST (60,000 images) must cost less than
training an epoch of [784,800,10] at batch 128 on the same machine. Both are timed
here, alternating, in the same run: the augmentation as `Trainer` calls it (batches of
128 rows of a random permutation, uint8 in, float32 out), for each transform set and
for the fused and the NumPy reference kernels, and the plain training epoch (no
augmentation) with 2 BLAS threads. Prints the CPU, the BLAS kernel and the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_torch import blas_report, cpu_name  # noqa: E402

SETS = [("affine",), ("affine", "elastic"), ("flip", "affine"), ("flip", "erase")]
BATCH = 128


def augment_epoch(x: np.ndarray, transforms, kernel_set: str) -> float:
    """Seconds to distort every image of x once, batch by batch."""
    from barenet import backend
    from barenet.data.augment import Augment

    augment = Augment(list(transforms), seed=0)
    order = np.random.default_rng(0).permutation(len(x))
    cpu = backend.get_backend("cpu", kernels=kernel_set)
    augment(x, order[:BATCH], backend=cpu)  # compiled and warm
    start = time.perf_counter()
    for begin in range(0, len(x), BATCH):
        augment(x, order[begin:begin + BATCH], backend=cpu)
    return time.perf_counter() - start


def training_epoch(x: np.ndarray, y: np.ndarray) -> float:
    import barenet as bn

    model = bn.MLP([784, 800, 10], seed=0).compile(optimizer=bn.optimizers.SGD(lr=0.05, momentum=0.9))
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
    return time.perf_counter() - start


def measure(repeats: int) -> dict:
    from threadpoolctl import threadpool_limits

    import barenet as bn

    threadpool_limits(2)
    train = bn.datasets.load("mnist").train
    x, y = train.x.reshape(len(train.x), -1), train.y
    cells: dict[str, list[float]] = {}
    training_epoch(x[:2000], y[:2000])  # compile the training kernels
    for _ in range(repeats):
        cells.setdefault("train [784,800,10] b128", []).append(training_epoch(x, y))
        for transforms in SETS:
            for kernel_set in ("fused", "numpy"):
                key = f"{'+'.join(transforms)} ({kernel_set})"
                cells.setdefault(key, []).append(augment_epoch(x, transforms, kernel_set))
    return {"cpu": cpu_name(), "blas": blas_report(), "images": len(x),
            "seconds": {key: statistics.median(values) for key, values in cells.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.repeats)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    pools = ", ".join(f"{p['internal_api']} {p['version']} {p['architecture']}" for p in result["blas"]["pools"])
    print(f"{result['cpu']}; {pools}; medians of {args.repeats}, {result['images']:,} images per epoch")
    train = result["seconds"]["train [784,800,10] b128"]
    for key, seconds in result["seconds"].items():
        rate = f"{result['images'] / seconds:>10,.0f} images/s" if "train" not in key else f"{'':>19}"
        ratio = f"{seconds / train:5.2f} x the training epoch" if "train" not in key else ""
        print(f"{key:<28} {seconds:7.3f} s/epoch {rate}  {ratio}")


if __name__ == "__main__":
    main()
