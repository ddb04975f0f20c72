"""Backends: the one decision about where and how a model's arithmetic runs.

    backend = get_backend("cpu")      # NumPy, fused kernels, the machine's GEMM, subnormals flushed
    backend = get_backend("cuda")     # CuPy, CUDA kernels, cuBLAS (ConfigError, one line, without them)
    backend = get_backend("cpu", kernels="numpy", gemm="mkl")   # the CPU with other choices, for one model
    backend.kernels.bias_act(...); backend.gemm.matmul(x, W, out=y); backend.xp.zeros(...)
    with backend.floats(): ...        # the floating-point policy around the work of a training thread

As in Keras 3's `backend/<name>/`, each backend is a package with the same module names
(`kernels.py`, `gemm.py`, `floats.py`) and this module is the one chooser. A model picks its
backend once (`Sequential(..., device=...)`) and hands it to its layers, loss, optimizer and
Trainer; none of them asks an array where it lives. Tests register more devices (`register`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import ConfigError
from .device import DTYPES, Backend, FloatPolicy, Gemm, resolve_dtype, to_numpy

__all__ = ["Backend", "Gemm", "FloatPolicy", "get_backend", "check_device", "check_environment", "register",
           "to_numpy", "DTYPES", "resolve_dtype"]

CUDA_NAME = re.compile(r"cuda(?::(\d{1,3}))?")
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


def check_environment() -> None:
    """BARENET_KERNELS and BARENET_GEMM checked (one-line ConfigErrors naming the fix), before any work."""
    from .cpu import gemm, kernels

    kernels.requested()
    if gemm.requested() == "mkl":
        gemm.provider("mkl")


def get_backend(device: str | Backend = "cpu", kernels: str | None = None, gemm: str | None = None) -> Backend:
    """The backend for `device`: "cpu", "cuda" (the current GPU), "cuda:N", or a Backend (returned as is).

    On the CPU, `kernels` ("fused", "numpy") and `gemm` ("auto", "numpy", "mkl") choose its kernel set and
    GEMM provider; None takes BARENET_KERNELS / BARENET_GEMM (defaults: fused, auto)."""
    if isinstance(device, Backend):
        return device
    check_device(device)
    if (kernels or gemm) and device != "cpu":
        raise ConfigError(f"kernels= and gemm= choose the CPU's kernel set and GEMM provider, not {device!r}'s")
    if device == "cpu":
        from . import cpu

        return cpu.make(kernels, gemm)
    if device in _FACTORIES:
        return _FACTORIES[device](device)
    match = CUDA_NAME.fullmatch(device)
    assert match is not None  # check_device accepted it
    from . import cuda

    return cuda.make(device, None if match.group(1) is None else int(match.group(1)))
