"""The CUDA backend: CuPy arrays on an NVIDIA GPU, the CUDA kernel set, cuBLAS, the device's float modes.

    cuda.make("cuda", None)     # the current GPU; "cuda:1" -> make("cuda:1", 1)

One-line ConfigErrors when CuPy, the driver or the device is missing.
"""

from __future__ import annotations

from ...errors import ConfigError
from ..device import Backend
from . import floats, gemm, kernels

GPU_EXTRA = 'pip install "barenet[gpu]"'


def make(name: str, number: int | None) -> Backend:
    """A CuPy backend on GPU `number` (None: the current one)."""
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
    return Backend(name, cupy, kernels=kernels.CudaKernels(cupy), gemm=gemm.CublasGemm(cupy),
                   floats=floats.DeviceDefault(), on_host=False, device_id=device_id,
                   synchronize=lambda: cupy.cuda.Device(device_id).synchronize())
