"""Where a model's arrays live: a `Backend` per device ("cpu", "cuda", "cuda:N").

    backend = get_backend("cuda")     # ConfigError (one line) without CuPy or without a GPU
    weights = backend.asarray(host)   # upload (a no-op on the CPU)
    backend.to_numpy(weights)         # download (a no-op on the CPU)

A model picks its backend once (`Sequential(..., device=...)`); its layers keep it and
compute through `backend.xp` (NumPy or CuPy), never through `numpy.` on device arrays.
Code that is handed an array rather than a model (losses, optimizers, the functional
helpers, `kernels.on`) asks `array_module(array)`, as CuPy's `get_array_module` does.

Two things stay on the host whatever the device: random numbers come from the model's
NumPy `Generator` (initialisation, shuffling and dropout masks are drawn there, then
uploaded, so a seed gives the same numbers on every device), and file formats, plots and
the command line use NumPy. `xp` below is the CPU default (NumPy), kept for code that
has no model at hand.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy

from .errors import ConfigError

xp = numpy  # the CPU default; a model's own array module is `model.backend.xp`

__all__ = ["Backend", "CPU", "get_backend", "check_device", "register", "array_module", "scalar", "to_numpy", "DTYPES",
           "resolve_dtype", "xp"]

DTYPES = {"float32": numpy.float32, "float64": numpy.float64}
CUDA_NAME = re.compile(r"cuda(?::(\d{1,3}))?")
GPU_EXTRA = 'pip install "barenet[gpu]"'


@dataclass(frozen=True)
class Backend:
    """A device and its array module.

    name       "cpu", "cuda", "cuda:1", ...
    xp         the array module: numpy, or cupy
    on_host    True when the arrays are the caller's NumPy arrays (the CPU): nothing is uploaded,
               nothing is read back, and the Trainer keeps its host-side loop
    device_id  the CUDA device number, or None
    """

    name: str
    xp: ModuleType
    on_host: bool = False
    device_id: int | None = None
    synchronize: Callable[[], None] = field(default=lambda: None, compare=False)

    def asarray(self, array, dtype=None):
        """`array` on this device (the same object when it is there already with that dtype)."""
        with self.activated():
            return self.xp.asarray(array, dtype=dtype)

    def to_numpy(self, array) -> numpy.ndarray:
        """`array` as a host NumPy array (the same object for NumPy input)."""
        return to_numpy(array)

    def activated(self) -> contextlib.AbstractContextManager:
        """A context in which new arrays are allocated on this device (CuPy's current device)."""
        if self.device_id is None:
            return contextlib.nullcontext()
        return self.xp.cuda.Device(self.device_id)

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"


CPU = Backend("cpu", numpy, on_host=True)
_FACTORIES: dict[str, Callable[[str], Backend]] = {}  # more names (tests register a fake device here)


def register(name: str, factory: Callable[[str], Backend]) -> None:
    """Make `get_backend(name)` call `factory(name)`; for test devices and plug-ins."""
    _FACTORIES[name] = factory


def check_device(device: str) -> None:
    """ConfigError (one line, naming the choices) unless `device` is a device name barenet knows.
    Checks only the name: whether CuPy and a GPU are there is `get_backend`'s question."""
    if not isinstance(device, str) or not (device == "cpu" or device in _FACTORIES or CUDA_NAME.fullmatch(device)):
        extra = "".join(f", {name!r}" for name in _FACTORIES)
        raise ConfigError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N' (N a GPU number){extra}")


def get_backend(device: str | Backend = "cpu") -> Backend:
    """The backend for `device`: "cpu", "cuda" (the current GPU), "cuda:N", or a Backend (returned as is)."""
    if isinstance(device, Backend):
        return device
    check_device(device)
    if device == "cpu":
        return CPU
    if device in _FACTORIES:
        return _FACTORIES[device](device)
    match = CUDA_NAME.fullmatch(device)
    assert match is not None  # check_device accepted it
    return _cuda(device, None if match.group(1) is None else int(match.group(1)))


def _cuda(name: str, number: int | None) -> Backend:
    """A CuPy backend; one-line ConfigErrors when CuPy, the driver or the device is missing."""
    try:
        import cupy
    except ImportError as exc:
        raise ConfigError(f"device {name!r} needs CuPy, which is not installed ({exc}): {GPU_EXTRA}") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 (no driver: CuPy raises its own runtime error)
        raise ConfigError(f"device {name!r}: CuPy is installed but finds no CUDA driver or GPU "
                          f"({type(exc).__name__}: {exc}); train with --device cpu") from None
    if count == 0 or (number is not None and number >= count):
        raise ConfigError(f"device {name!r}: CuPy finds {count} CUDA device{'s' * (count != 1)} on this machine; "
                          f"use {'cpu' if count == 0 else f'cuda:0 .. cuda:{count - 1}'}")
    device_id = cupy.cuda.runtime.getDevice() if number is None else number
    return Backend(name, cupy, on_host=False, device_id=device_id,
                   synchronize=lambda: cupy.cuda.Device(device_id).synchronize())


def array_module(array) -> Any:
    """The array module of `array`: numpy for NumPy arrays and scalars, cupy for CuPy arrays."""
    if isinstance(array, (numpy.ndarray, numpy.generic)) or not type(array).__module__.startswith("cupy"):
        return numpy
    import cupy

    return cupy


def scalar(value) -> Any:
    """A reduction's result as callers keep it: a Python float from NumPy, the 0-d device array as it is from
    CuPy (turning it into a float would wait for the device; `float()` does that when the number is needed)."""
    return float(value) if array_module(value) is numpy else value


def to_numpy(array) -> numpy.ndarray:
    """Return `array` as a host NumPy array (a no-op for NumPy input; a device-to-host copy for CuPy)."""
    if array_module(array) is numpy:
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
