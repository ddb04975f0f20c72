"""The array module every layer, loss and optimizer computes with.

`xp` is NumPy today; a GPU backend (CuPy) can replace it without touching the
math, because layers, losses and optimizers never import NumPy themselves.
Host-only code (file formats, plots, the CLI) uses NumPy directly.
"""

from __future__ import annotations

import numpy

xp = numpy

__all__ = ["xp", "to_numpy", "DTYPES", "resolve_dtype"]

DTYPES = {"float32": numpy.float32, "float64": numpy.float64}


def to_numpy(array) -> numpy.ndarray:
    """Return `array` as a host NumPy array (a no-op for NumPy input)."""
    return numpy.asarray(array)


def resolve_dtype(dtype) -> numpy.dtype:
    """Accept "float32"/"float64" or a NumPy float dtype; reject anything else."""
    from .errors import ConfigError

    try:
        resolved = numpy.dtype(DTYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved not in (numpy.float32, numpy.float64):
        raise ConfigError(f"unknown dtype {dtype!r}: use 'float32' or 'float64'")
    return resolved
