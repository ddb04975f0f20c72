"""Training and prediction speed of two barenet versions in one process, alternating: did a change cost speed?

    git archive <commit> | tar -x -C /tmp/old          # any earlier barenet source tree
    python benchmarks/old_vs_new.py --old /tmp/old/src  # every cell of compare_torch.py
    python benchmarks/old_vs_new.py --old /tmp/old/src --cells small:128,big:32 --pairs 16

The old tree's `barenet` package is copied to a temporary folder as `barenet_old` (barenet
imports itself only relatively), so both versions train side by side on the same data,
in ABBA order (neither side is always second), with a 0.5 s pause before every timed run,
2 BLAS threads, the same cells and settings as compare_torch.py's barenet side. Printed per
cell: both medians and the median of the per-pair speed ratios, which cancels the slow drifts
of a shared machine better than a ratio of medians.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NETWORKS = {"small": [784, 128, 64, 10], "wide": [784, 800, 10], "big": [784, 1024, 1024, 10]}
BATCHES = [1, 32, 128, 256, 1024]
SAMPLES = {1: 3000, 32: 60000, 128: 60000, 256: 60000, 1024: 60000}
PAUSE = 0.5  # idle BLAS threads busy-wait for a while after a call; see compare_torch.py


def import_old(src: Path):
    """The barenet package under `src`, imported as `barenet_old`."""
    folder = Path(tempfile.mkdtemp(prefix="barenet-old-"))
    shutil.copytree(src / "barenet", folder / "barenet_old")
    sys.path.insert(0, str(folder))
    return importlib.import_module("barenet_old")


def epoch_timer(bn, sizes, x, y, batch: int):
    """A function that trains one epoch of `samples` rows and returns its seconds."""
    model = bn.MLP(sizes, activation="relu", seed=0).compile(optimizer=bn.optimizers.SGD(lr=0.01, momentum=0.9))
    rng = np.random.default_rng(0)
    quiet = {"verbose": 0} if "verbose" in inspect.signature(model.fit).parameters else {}  # older versions were silent

    def run() -> float:
        rows = rng.permutation(len(x))[:SAMPLES[batch]]
        xs, ys = x[rows], y[rows]
        time.sleep(PAUSE)
        start = time.perf_counter()
        model.fit(xs, ys, epochs=1, batch_size=batch, shuffle=True, **quiet)
        return time.perf_counter() - start

    return run


def predict_timer(bn, sizes, x):
    model = bn.MLP(sizes, seed=0).compile()

    def run() -> float:
        time.sleep(PAUSE)
        start = time.perf_counter()
        model.predict(x)
        return time.perf_counter() - start

    return run


def abba(old_run, new_run, pairs: int) -> tuple[list[float], list[float]]:
    """Seconds of each side, alternating A B B A ... after one warm-up run each."""
    old_run(), new_run()
    old_times, new_times = [], []
    for i in range(pairs):
        first, second = ((old_run, old_times), (new_run, new_times))[:: 1 if i % 2 == 0 else -1]
        first[1].append(first[0]())
        second[1].append(second[0]())
    return old_times, new_times


def report(label: str, old_times: list[float], new_times: list[float], unit_per_second: float | None) -> str:
    paired = statistics.median(o / n for o, n in zip(old_times, new_times))
    o, n = statistics.median(old_times), statistics.median(new_times)
    if unit_per_second is None:
        speeds = f"old {o * 1e3:8.1f} ms      new {n * 1e3:8.1f} ms"
    else:
        speeds = f"old {unit_per_second / o:9,.0f}/s  new {unit_per_second / n:9,.0f}/s"
    return f"{label:<32} {speeds}  new/old speed: medians {o / n:.3f}, median of pairs {paired:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, type=Path, help="the src/ folder of the old barenet")
    parser.add_argument("--cells", help="e.g. small:128,big:32,wide:predict (default: every cell)")
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (1 on a shared machine)")
    args = parser.parse_args()

    from threadpoolctl import threadpool_info, threadpool_limits

    import barenet as new

    old = import_old(args.old)
    threadpool_limits(args.threads)
    keys = ("internal_api", "version", "architecture", "num_threads")
    pools = [{k: pool.get(k) for k in keys} for pool in threadpool_info()]
    print(f"old {old.__file__}\nnew {new.__file__} ({new.backend.get_backend('cpu').describe()})\nBLAS {pools}")
    data = new.datasets.load("mnist")
    x, y, x_test = data.train.x.reshape(60000, 784), data.train.y, data.test.x.reshape(10000, 784)
    cells = [tuple(c.split(":")) for c in args.cells.split(",")] if args.cells else \
        [(net, str(batch)) for net in NETWORKS for batch in [*BATCHES, "predict"]]
    for net, batch in cells:
        sizes = NETWORKS[net]
        if batch == "predict":
            times = abba(predict_timer(old, sizes, x_test), predict_timer(new, sizes, x_test), max(args.pairs, 11))
            print(report(f"{sizes} predict 10k", *times, None), flush=True)
        else:
            b = int(batch)
            times = abba(epoch_timer(old, sizes, x, y, b), epoch_timer(new, sizes, x, y, b), args.pairs)
            print(report(f"{sizes} batch {b}", *times, SAMPLES[b]), flush=True)


if __name__ == "__main__":
    main()
