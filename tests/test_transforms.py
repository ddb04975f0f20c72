import numpy as np
import pytest

from barenet.data import transforms as T
from barenet.errors import ConfigError, InputError, LabelError


def test_scale_and_flatten():
    x = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    s = T.scale(x)
    assert s.dtype == np.float32 and s.shape == (1, 2, 2)
    np.testing.assert_allclose(s, [[[0, 1], [0.2, 0.4]]], rtol=1e-6)
    assert T.flatten(s).shape == (1, 4)


def test_standardize_constants_and_computed(rng):
    x = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    fixed = T.standardize(x)
    np.testing.assert_allclose(fixed, (x / 255.0 - 0.1307) / 0.3081, rtol=1e-5, atol=1e-5)
    computed = T.standardize(x, mean=None, std=None)
    assert computed.dtype == np.float32
    assert abs(float(computed.mean())) < 1e-4 and abs(float(computed.std()) - 1) < 1e-4
    with pytest.raises(InputError, match="zero spread"):
        T.standardize(np.zeros((3, 4), np.uint8), mean=None, std=None)


def test_one_hot_and_back():
    y = np.array([2, 0, 9])
    oh = T.one_hot(y)
    assert oh.shape == (3, 10) and oh.dtype == np.float32 and oh.sum() == 3
    np.testing.assert_array_equal(T.from_one_hot(oh), y)
    with pytest.raises(LabelError):
        T.one_hot(np.array([10]))


def test_shuffle_and_split_reproducible(rng):
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    a, b = T.shuffle(x, y, seed=3), T.shuffle(x, y, seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[0][:, 0] // 2, a[1])
    assert not np.array_equal(a[1], y)
    (xa, ya), (xb, yb) = T.split(x, y, 3)
    np.testing.assert_array_equal(yb, [7, 8, 9])
    (_, ya2), (_, yb2) = T.split(x, y, 0.5, seed=1)
    assert len(ya2) == len(yb2) == 5 and sorted(np.concatenate([ya2, yb2])) == list(range(10))
    with pytest.raises(ConfigError):
        T.split(x, y, 11)


def test_balanced_subset():
    y = np.repeat(np.arange(10), 30)
    rows = T.balanced_subset(y, 45, 10, seed=0)
    assert len(rows) == 45 and np.all(np.diff(rows) > 0)
    counts = np.bincount(y[rows], minlength=10)
    assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(rows, T.balanced_subset(y, 45, 10, seed=0))
    assert not np.array_equal(rows, T.balanced_subset(y, 45, 10, seed=1))
    with pytest.raises(ConfigError, match="smaller subset"):
        T.balanced_subset(y, 400, 10)


def test_batches_convert_per_batch(rng):
    x = rng.integers(0, 256, (10, 4, 4), dtype=np.uint8)
    y = np.arange(10)
    got = list(T.batches(x, y, batch_size=4))
    assert [len(b[1]) for b in got] == [4, 4, 2]
    assert all(b[0].dtype == np.float32 and b[0].shape[1] == 16 for b in got)
    np.testing.assert_allclose(np.concatenate([b[0] for b in got]), T.flatten(x) / 255.0, rtol=1e-6)
    shuffled = list(T.batches(x, y, batch_size=3, shuffle=True, seed=5))
    assert sorted(np.concatenate([b[1] for b in shuffled])) == list(range(10))
    only_x = next(T.batches(x, batch_size=2, flat=False))
    assert only_x.shape == (2, 4, 4)
