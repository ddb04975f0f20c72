"""The array module the maths computes with.

`xp` is NumPy today. Layers, losses and optimizers do their array maths through
`xp` (never `numpy.` directly), so a CuPy backend can take its place. Two things
stay on the host whatever `xp` is: random draws come from a NumPy `Generator`
(initialisation, shuffling, dropout masks are drawn there and moved to `xp`), and
file formats, plots and the command line use NumPy directly.
"""

from __future__ import annotations

import numpy

from .errors import ConfigError

xp = numpy

__all__ = ["xp", "to_numpy", "DTYPES", "resolve_dtype"]

DTYPES = {"float32": numpy.float32, "float64": numpy.float64}


def to_numpy(array) -> numpy.ndarray:
    """Return `array` as a host NumPy array (a no-op for NumPy input)."""
    return numpy.asarray(array)


def resolve_dtype(dtype) -> numpy.dtype:
    """Accept "float32"/"float64" or a NumPy float dtype; reject anything else."""
    try:
        resolved = numpy.dtype(DTYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved not in (numpy.float32, numpy.float64):
        raise ConfigError(f"unknown dtype {dtype!r}: use 'float32' or 'float64'")
    return resolved
