"""`Backend`: the one object that decides how a model's arithmetic runs.

A backend is chosen once, when a model is built (`Sequential(..., device=...)`), and handed to
everything that computes: layers get it in `build`, the loss and the optimizer in `compile`, the
Trainer reads it from the model. Nothing below it asks an array where it lives. It carries:

    xp         the array module: numpy, or cupy
    kernels    the element-wise kernel set (`kernels.KernelSet`): the NumPy reference, the fused
               numba loops, or the CUDA kernels
    gemm       the matrix products (`backend.gemm.Gemm`): NumPy's BLAS, MKL, or cuBLAS
    floats     the floating-point policy: `with backend.floats():` around the work of the thread
               that trains (on the CPU, subnormal numbers flushed to zero; see `backend/cpu/floats.py`)

Random numbers come from the model's NumPy `Generator` on the host whatever the backend (so a seed
gives the same numbers on every device); file formats, plots and the command line use NumPy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

import numpy

from ..errors import ConfigError

DTYPES = {"float32": numpy.float32, "float64": numpy.float64}


class Gemm(Protocol):
    """A matrix-product provider: `matmul(a, b, out)` for a (m, k), b (k, n) -> (m, n), written into `out`
    (m, n) when given; a and b may be transposed views (`x.T`, `W.T`)."""

    name: str

    def matmul(self, a, b, out=None) -> Any: ...
    def threads(self, count: int | None) -> contextlib.AbstractContextManager: ...
    def describe(self) -> str: ...


class FloatPolicy(Protocol):
    """What the threads that train do with subnormal numbers: a context entered around that work,
    restoring the caller's state on exit."""

    name: str

    def __call__(self) -> contextlib.AbstractContextManager: ...


@dataclass(frozen=True)
class Backend:
    """A device and how it computes.

    name       "cpu", "cuda", "cuda:1", ...
    xp         the array module: numpy, or cupy
    kernels    the element-wise kernels (a `kernels.KernelSet`)
    gemm       the matrix products (a `Gemm`)
    floats     the floating-point policy (a `FloatPolicy`)
    on_host    True when the arrays are the caller's NumPy arrays (the CPU): nothing is uploaded,
               nothing is read back, and the Trainer keeps its host-side loop
    device_id  the CUDA device number, or None
    """

    name: str
    xp: ModuleType
    kernels: Any = field(compare=False)
    gemm: Gemm = field(compare=False)
    floats: FloatPolicy = field(compare=False)
    on_host: bool = False
    device_id: int | None = None
    synchronize: Callable[[], None] = field(default=lambda: None, compare=False)

    def __copy__(self) -> Backend:
        return self

    def __deepcopy__(self, memo: dict) -> Backend:
        """Itself: a Backend is immutable and holds modules, so a copied model shares its device."""
        return self

    def asarray(self, array, dtype=None):
        """`array` on this device (the same object when it is there already with that dtype)."""
        with self.activated():
            return self.xp.asarray(array, dtype=dtype)

    def to_numpy(self, array) -> numpy.ndarray:
        """`array` as a host NumPy array (the same object for NumPy input)."""
        return to_numpy(array)

    def scalar(self, value) -> Any:
        """A reduction's result as callers keep it: a Python float on the host; on a device the 0-d array as
        it is (turning it into a float would wait for the device; `float()` does that when it is needed)."""
        return float(value) if self.on_host else value

    def activated(self) -> contextlib.AbstractContextManager:
        """A context in which new arrays are allocated on this device (CuPy's current device)."""
        if self.device_id is None:
            return contextlib.nullcontext()
        return self.xp.cuda.Device(self.device_id)

    def settings(self) -> dict:
        """What runs the arithmetic, for a run's summary: {"device", "kernels", "gemm", "subnormals"}."""
        return {"device": self.name, "kernels": getattr(self.kernels, "name", type(self.kernels).__name__),
                "gemm": self.gemm.describe(), "subnormals": self.floats.name}

    def describe(self) -> str:
        """One line: "cpu: fused kernels, GEMM numpy (OpenBLAS 0.3.31, Haswell kernel, 2 threads), subnormals
        flushed to zero"."""
        settings = self.settings()
        return (f"{settings['device']}: {settings['kernels']} kernels, GEMM {settings['gemm']}, "
                f"subnormals {settings['subnormals']}")

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"


def to_numpy(array) -> numpy.ndarray:
    """`array` as a host NumPy array: a no-op for NumPy input, a device-to-host copy for CuPy (`.get()`).
    For host code (files, plots, parity checks), never the hot path."""
    if isinstance(array, (numpy.ndarray, numpy.generic)) or not hasattr(array, "get"):
        return numpy.asarray(array)
    return array.get()


def resolve_dtype(dtype) -> numpy.dtype:
    """Accept "float32"/"float64" or a NumPy float dtype; reject anything else."""
    try:
        resolved = numpy.dtype(DTYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved not in (numpy.float32, numpy.float64):
        raise ConfigError(f"unknown dtype {dtype!r}: use 'float32' or 'float64'")
    return resolved
