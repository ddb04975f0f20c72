"""The CPU's kernel set: numba's fused loops (the default), or the NumPy reference.

    BARENET_KERNELS=fused   (the default) the numba loops, compiled on first use and cached on disk
    BARENET_KERNELS=numpy   the NumPy reference (also used when numba is not installed, with a warning)

`backend.get_backend("cpu", kernels="numpy")` asks for the reference in code, for one model.
"""

from __future__ import annotations

import os
from typing import Any

from ... import kernels
from ...errors import ConfigError, warn

ENVIRONMENT = "BARENET_KERNELS"
CHOICES = ("fused", "numpy")


def requested() -> str:
    """The kernel set the environment asks for ("fused" unless BARENET_KERNELS says otherwise), checked."""
    choice = os.environ.get(ENVIRONMENT, "fused").strip().lower() or "fused"
    choice = "numpy" if choice == "reference" else choice
    if choice not in CHOICES:
        raise ConfigError(f"{ENVIRONMENT}={choice!r} is not a kernel set: use 'fused' or 'numpy'")
    return choice


def kernel_set(choice: str) -> Any:
    """The set named `choice` ("fused" or "numpy")."""
    if choice not in CHOICES:
        raise ConfigError(f"unknown kernels {choice!r}: use 'fused' or 'numpy' (e.g. {ENVIRONMENT}=numpy)")
    if choice == "fused" and not kernels.numba_available():
        warn("numba is not installed, so barenet runs its NumPy reference kernels (slower): pip install numba")
        choice = "numpy"
    return kernels.fused() if choice == "fused" else kernels.reference()
