"""What the fused kernels cost before the first step: compiling them once, loading them after.

    python benchmarks/cold_start.py

Runs a child process twice against one fresh numba cache folder (NUMBA_CACHE_DIR):
first cold (every kernel a default `barenet train` uses compiles), then warm (they
load from the cache). In each child: import time (barenet, then numba), and the
first `fit` of a small model (its kernels compile or load) minus a second
identical `fit` (nothing left to compile) = the seconds spent on kernels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, time
import numpy as np
t0 = time.perf_counter()
import barenet as bn
from barenet import kernels
t1 = time.perf_counter()
kernels.fused()
t2 = time.perf_counter()
x = np.random.default_rng(0).integers(0, 256, (512, 784), dtype=np.uint8)
y = np.random.default_rng(1).integers(0, 10, 512)

def fit():
    model = bn.MLP([784, 128, 64, 10], dropout=0.2, seed=0).compile(
        optimizer=bn.optimizers.SGD(lr=0.01, momentum=0.9, nesterov=True))
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=128)
    model.predict(x)
    return time.perf_counter() - start

first = fit()
second = fit()
print(json.dumps({"import_barenet": t1 - t0, "import_numba": t2 - t1, "kernels": first - second}))
"""


def child(cache: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "BARENET_KERNELS": "fused"}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        for label in ("cold (compiles)", "warm (cached)"):
            r = child(cache)
            print(f"{label:<16} import barenet {r['import_barenet']:.2f} s, import numba {r['import_numba']:.2f} s, "
                  f"kernels {r['kernels']:.2f} s")


if __name__ == "__main__":
    main()
