import math

import numpy as np
import pytest

from barenet.errors import ConfigError
from barenet.nn import initializers

SHAPE = (400, 300)


@pytest.mark.parametrize("name, std", [
    ("he_normal", math.sqrt(2 / 400)),
    ("he_uniform", math.sqrt(6 / 400) / math.sqrt(3)),
    ("glorot_uniform", math.sqrt(6 / 700) / math.sqrt(3)),
    ("glorot_normal", math.sqrt(2 / 700)),
    ("lecun_normal", math.sqrt(1 / 400)),
    ("random_normal", 0.01),
    ("scaled_normal", math.sqrt(1 / 300)),
])
def test_spread_matches_definition(name, std):
    w = initializers.get(name)(SHAPE, np.random.default_rng(0), np.float64)
    assert w.shape == SHAPE
    assert w.std() == pytest.approx(std, rel=0.02)
    assert abs(w.mean()) < 0.05 * std


def test_glorot_uniform_limit():
    w = initializers.glorot_uniform(SHAPE, np.random.default_rng(0))
    limit = math.sqrt(6 / 700)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert w.dtype == np.float32


def test_random_uniform_is_positive_like_rand_times_scale():
    w = initializers.get({"name": "random_uniform", "low": 0.0, "high": 0.01})(SHAPE, np.random.default_rng(0))
    assert w.min() >= 0 and w.max() <= 0.01


def test_same_generator_seed_same_weights():
    a = initializers.he_normal(SHAPE, np.random.default_rng(5))
    b = initializers.he_normal(SHAPE, np.random.default_rng(5))
    c = initializers.he_normal(SHAPE, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_zeros_and_constant():
    assert not initializers.zeros((3,)).any()
    constant = initializers.get({"name": "constant", "value": 0.1})
    np.testing.assert_array_equal(constant((2,), None, np.float64), [0.1, 0.1])


def test_aliases_and_unknown_names():
    assert initializers.get("he") is initializers.he_normal
    assert initializers.get("xavier") is initializers.glorot_uniform
    with pytest.raises(ConfigError, match="unknown initializer 'kaiming'"):
        initializers.get("kaiming")
    with pytest.raises(ConfigError, match="bad options"):
        initializers.get({"name": "random_normal", "sigma": 2})
