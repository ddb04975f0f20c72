"""Weight initializers: functions `(shape, rng, dtype) -> array`.

`shape` is `(fan_in, fan_out)` for a Dense weight matrix (the layer computes
`x @ W`), or `(fan_out,)` for a bias. Every draw comes from an explicit
`numpy.random.Generator`, so the same seed always gives the same weights. They
return host NumPy arrays; the layer moves them to its device (the same numbers on
every device).

    he_normal        N(0, 2/fan_in)                  ReLU family (He et al. 2015)
    he_uniform       U(-sqrt(6/fan_in), +...)
    glorot_uniform   U(-sqrt(6/(fan_in+fan_out)), +...)   sigmoid/tanh (Glorot & Bengio 2010)
    glorot_normal    N(0, 2/(fan_in+fan_out))
    lecun_normal     N(0, 1/fan_in)
    random_normal    N(0, 1) * scale     the notebooks' "randn * 0.01"
    random_uniform   U(low, high)        the notebooks' "rand * 0.01" (all positive)
    scaled_normal    N(0, 1) * sqrt(gain/fan_out)   "randn * sqrt(1/n_out)"
    zeros, ones, constant(value)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

from ..errors import ConfigError
from ..registry import lookup, split_spec

Initializer = Callable[[tuple, np.random.Generator, object], object]


def _fans(shape: tuple) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def _normal(shape, rng, dtype, std: float):
    return np.asarray(rng.standard_normal(shape) * std, dtype=dtype)


def _uniform(shape, rng, dtype, low: float, high: float):
    return np.asarray(rng.uniform(low, high, size=shape), dtype=dtype)


def he_normal(shape, rng, dtype=np.float32):
    fan_in, _ = _fans(shape)
    return _normal(shape, rng, dtype, math.sqrt(2.0 / fan_in))


def he_uniform(shape, rng, dtype=np.float32):
    fan_in, _ = _fans(shape)
    limit = math.sqrt(6.0 / fan_in)
    return _uniform(shape, rng, dtype, -limit, limit)


def glorot_uniform(shape, rng, dtype=np.float32):
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return _uniform(shape, rng, dtype, -limit, limit)


def glorot_normal(shape, rng, dtype=np.float32):
    fan_in, fan_out = _fans(shape)
    return _normal(shape, rng, dtype, math.sqrt(2.0 / (fan_in + fan_out)))


def lecun_normal(shape, rng, dtype=np.float32):
    fan_in, _ = _fans(shape)
    return _normal(shape, rng, dtype, math.sqrt(1.0 / fan_in))


def random_normal(shape, rng, dtype=np.float32, scale: float = 0.01):
    return _normal(shape, rng, dtype, scale)


def random_uniform(shape, rng, dtype=np.float32, low: float = 0.0, high: float = 0.01):
    return _uniform(shape, rng, dtype, low, high)


def scaled_normal(shape, rng, dtype=np.float32, gain: float = 1.0):
    _, fan_out = _fans(shape)
    return _normal(shape, rng, dtype, math.sqrt(gain / fan_out))


def zeros(shape, rng=None, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


def ones(shape, rng=None, dtype=np.float32):
    return np.ones(shape, dtype=dtype)


def constant(shape, rng=None, dtype=np.float32, value: float = 0.0):
    return np.full(shape, value, dtype=dtype)


REGISTRY: dict[str, Callable] = {
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "lecun_normal": lecun_normal,
    "random_normal": random_normal,
    "random_uniform": random_uniform,
    "scaled_normal": scaled_normal,
    "zeros": zeros,
    "ones": ones,
    "constant": constant,
}
ALIASES = {"he": "he_normal", "glorot": "glorot_uniform", "xavier": "glorot_uniform", "lecun": "lecun_normal"}


def canonical_name(name: str) -> str:
    """Resolve aliases ("he" -> "he_normal"); raise ConfigError for unknown names."""
    return lookup(name, REGISTRY, "initializer", ALIASES)


def get(spec) -> Callable:
    """Return an initializer from a name, a `{"name": ..., **options}` dict, or a callable.

    >>> get("he")                                         # he_normal
    >>> get({"name": "random_uniform", "low": 0, "high": 0.01})
    """
    if callable(spec):
        return spec
    if not isinstance(spec, (str, dict)):
        raise ConfigError(f"initializer must be a name, a dict or a callable, not {type(spec).__name__}")
    name, options = split_spec(spec)
    key = canonical_name(name)
    if not options:
        return REGISTRY[key]
    bound = partial(REGISTRY[key], **options)
    try:
        bound((2, 2), np.random.default_rng(0), np.float64)  # reject bad option names now
    except TypeError as exc:
        raise ConfigError(f"bad options for initializer {key!r}: {exc}") from None
    return bound
