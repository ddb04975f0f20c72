"""What subnormal numbers cost this CPU, and what the CPU backend's flush-to-zero saves.

    python benchmarks/subnormals.py            # the fused SGD update over 109k parameters, three ways

The fused SGD-with-momentum update ([784,128,64,10]'s 109k parameters, float32, one
thread) is timed with (a) ordinary velocities, (b) velocities that are all subnormal, with
the caller's floating-point modes, and (c) the same subnormal velocities inside the CPU
backend's float policy (`backend.floats()`: flush-to-zero and denormals-are-zero). The
issue measured (a) 30 us and (b) 1,454 us on an Intel Xeon (SkylakeX); AMD's Zen cores
barely slow down. Median of 7 rounds of 200 updates, alternating; each round restores the
velocities (an update under flush-to-zero turns them into zeros).
"""

from __future__ import annotations

import contextlib
import statistics
import time

import numpy as np
from compare_torch import cpu_name

from barenet import backend, kernels

PARAMETERS = 109_386  # [784,128,64,10]
ROUNDS, CALLS = 7, 100  # v <- 0.9 v leaves the subnormal range (23 binary orders) after about 150 updates


def timed(policy, p, g, v, start_v) -> float:
    """Microseconds per fused SGD update over p, g, v, inside `policy()`."""
    sgd = kernels.fused().sgd
    with policy():
        v[...] = start_v
        begin = time.perf_counter()
        for _ in range(CALLS):
            sgd(p, g, v, 0.0, 0.9, 0.0, False, 0.0, False)  # lr 0: p stays, v decays as v <- 0.9 v
        return (time.perf_counter() - begin) / CALLS * 1e6


def main() -> None:
    cpu = backend.get_backend("cpu")
    p, g = np.ones(PARAMETERS, np.float32), np.zeros(PARAMETERS, np.float32)
    normal = np.full(PARAMETERS, 1e-3, np.float32)
    subnormal = np.full(PARAMETERS, np.finfo(np.float32).tiny * 0.99, np.float32)
    cases = {"ordinary velocities": (contextlib.nullcontext, normal),
             "subnormal, caller's modes": (contextlib.nullcontext, subnormal),
             f"subnormal, backend policy ({cpu.floats.name})": (cpu.floats, subnormal)}
    v = np.empty_like(p)
    timed(contextlib.nullcontext, p, g, v, normal)  # compiled and warm
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(ROUNDS):
        for name, (policy, start) in cases.items():
            times[name].append(timed(policy, p, g, v, start))
    print(f"fused SGD update over {PARAMETERS:,} float32 parameters, one thread; CPU {cpu_name()}")
    for name, values in times.items():
        print(f"  {name:<48} {statistics.median(values):8.1f} us")


if __name__ == "__main__":
    main()
