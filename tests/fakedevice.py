"""A fake device for the CPU suite: NumPy arrays, but every device branch of barenet taken.

`Backend.on_host` is False, so the Trainer uploads the data set, gathers batches from the
uploaded copy, keeps its metrics as 0-d arrays until the epoch ends, and models hand back
host copies at their boundaries. Every upload and download is a copy (as a real transfer
is), counted by shape, so tests can say what moved and how often. The kernels, GEMM provider
and float policy are the CPU backend's (the arrays are NumPy), so a run on "fake" must equal a
run on "cpu" bit for bit; `make(kernels=...)` injects another kernel set (e.g. one that records
its calls, `Recording`), which every layer, loss and optimizer on the device must then use.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from barenet import backend

NAME = "fake"


@dataclass(frozen=True, repr=False)
class FakeDevice(backend.Backend):
    """NumPy on the "device": arrays it uploaded (and views of them) are its own; anything else is the host's."""

    uploads: Counter = field(default_factory=Counter, compare=False)    # shape -> host-to-device copies
    downloads: Counter = field(default_factory=Counter, compare=False)  # shape -> device-to-host copies
    resident: dict = field(default_factory=dict, compare=False)         # id -> array uploaded (kept alive)

    def holds(self, array) -> bool:
        """Whether `array` is (a view of) an array this device uploaded."""
        while isinstance(array, np.ndarray):
            if id(array) in self.resident:
                return True
            array = array.base
        return False

    def asarray(self, array, dtype=None):
        if self.holds(array) and (dtype is None or array.dtype == dtype):
            return array
        copied = np.array(array, dtype=dtype, copy=True)
        self.uploads[copied.shape] += 1
        self.resident[id(copied)] = copied
        return copied

    def to_numpy(self, array) -> np.ndarray:
        self.downloads[np.shape(array)] += 1
        return np.array(array, copy=True)


class Recording:
    """A kernel set that forwards to `inner` and counts each kernel's calls by name."""

    def __init__(self, inner):
        self.inner, self.calls, self.name = inner, Counter(), f"recording {inner.name}"

    def __getattr__(self, name):
        kernel = getattr(self.inner, name)

        def counted(*args):
            self.calls[name] += 1
            return kernel(*args)
        return counted


def make(name: str = NAME, kernels=None) -> FakeDevice:
    """A fake device with the CPU backend's kernels (or `kernels`), GEMM provider and float policy."""
    cpu = backend.get_backend("cpu")
    return FakeDevice(name, np, kernels=kernels or cpu.kernels, gemm=cpu.gemm, floats=cpu.floats, on_host=False)


backend.register(NAME, make)
