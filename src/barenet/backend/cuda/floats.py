"""Subnormal numbers on an NVIDIA GPU: left as they are.

A GPU's float32 units handle subnormal numbers at full speed, so the CUDA backend changes no
floating-point mode (the CPU backend flushes them to zero: `backend/cpu/floats.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class DeviceDefault:
    """The device's own handling of subnormals (no mode is changed on the host)."""

    name = "kept (full speed on a GPU)"

    @contextmanager
    def __call__(self) -> Iterator[None]:
        yield
