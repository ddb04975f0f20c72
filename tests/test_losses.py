"""Losses: finite-difference gradients (float64), stability, targets as ids or one-hot."""

import numpy as np
import pytest

from barenet.errors import ConfigError
from barenet.nn import functional, losses
from helpers import numeric_gradient, relative_error

pytestmark = pytest.mark.usefixtures("kernel_set")  # every test on both kernel sets

TOL = 1e-6
N, C = 6, 4


def check_loss(loss, outputs, targets):
    value = loss.forward(outputs, targets)
    analytic = np.array(loss.backward(), copy=True)
    numeric = numeric_gradient(lambda: loss.forward(outputs, targets), outputs)
    assert np.isfinite(value)
    err = relative_error(analytic, numeric)
    assert err < TOL, err


def probabilities(rng):
    return functional.softmax(rng.standard_normal((N, C)))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_cross_entropy_gradients(rng, reduction, smoothing):
    loss = losses.SoftmaxCrossEntropy(reduction=reduction, label_smoothing=smoothing)
    check_loss(loss, rng.standard_normal((N, C)), rng.integers(0, C, N))
    check_loss(loss, rng.standard_normal((N, C)), probabilities(rng))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_categorical_cross_entropy_gradients(rng, reduction):
    check_loss(losses.CategoricalCrossEntropy(reduction=reduction), probabilities(rng), rng.integers(0, C, N))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_gradients(rng, reduction):
    loss = losses.MeanSquaredError(reduction=reduction)
    check_loss(loss, rng.standard_normal((N, C)), rng.integers(0, C, N))
    check_loss(loss, rng.standard_normal((N, C)), rng.standard_normal((N, C)))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_binary_cross_entropy_gradients(rng, reduction):
    outputs = rng.uniform(0.05, 0.95, (N, C))
    check_loss(losses.BinaryCrossEntropy(reduction=reduction), outputs, rng.integers(0, 2, (N, C)).astype(float))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_sigmoid_binary_cross_entropy_gradients(rng, reduction):
    loss = losses.SigmoidBinaryCrossEntropy(reduction=reduction)
    check_loss(loss, rng.standard_normal((N, C)) * 3, rng.integers(0, 2, (N, C)).astype(float))
    check_loss(loss, rng.standard_normal((N, C)), rng.integers(0, C, N))


def test_softmax_cross_entropy_known_value():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    labels = np.array([0, 2])
    expected = -np.mean(np.log(functional.softmax(logits)[[0, 1], labels]))
    assert losses.SoftmaxCrossEntropy().forward(logits, labels) == pytest.approx(expected, rel=1e-12)


def test_ids_and_one_hot_targets_agree(rng):
    logits = rng.standard_normal((N, C))
    ids = rng.integers(0, C, N)
    dense = functional.one_hot(ids, C, np.float64)
    for cls in (losses.SoftmaxCrossEntropy, losses.MeanSquaredError, losses.SigmoidBinaryCrossEntropy):
        a, b = cls(), cls()
        assert a.forward(logits, ids) == pytest.approx(b.forward(logits, dense), rel=1e-12)
        np.testing.assert_allclose(a.backward(), b.backward(), rtol=1e-12)


def test_mean_is_sum_over_batch(rng):
    logits, ids = rng.standard_normal((N, C)), rng.integers(0, C, N)
    mean = losses.SoftmaxCrossEntropy().forward(logits, ids)
    total = losses.SoftmaxCrossEntropy(reduction="sum").forward(logits, ids)
    assert total == pytest.approx(mean * N, rel=1e-12)
    mse_mean = losses.MeanSquaredError().forward(logits, ids)
    mse_sum = losses.MeanSquaredError(reduction="sum").forward(logits, ids)
    assert mse_sum == pytest.approx(mse_mean * N * C, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_are_finite_and_warning_free(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype)
    ids = np.array([1, 2])
    for loss in (losses.SoftmaxCrossEntropy(), losses.SigmoidBinaryCrossEntropy()):
        value = loss.forward(logits, ids)
        grad = loss.backward()
        assert np.isfinite(value) and np.isfinite(grad).all()
        assert grad.dtype == dtype
    assert losses.SoftmaxCrossEntropy().forward(logits, ids) == pytest.approx(1e4, rel=1e-6)
    probs = np.array([[1.0, 0.0, 0.0]], dtype=dtype)
    for loss in (losses.CategoricalCrossEntropy(), losses.BinaryCrossEntropy()):
        assert np.isfinite(loss.forward(probs, np.array([1])))
        assert np.isfinite(loss.backward()).all()


def test_registry_and_errors():
    assert isinstance(losses.get("cross_entropy"), losses.SoftmaxCrossEntropy)
    assert losses.get({"name": "mse", "reduction": "sum"}).reduction == "sum"
    with pytest.raises(ConfigError, match="unknown loss 'hinge'"):
        losses.get("hinge")
    with pytest.raises(ConfigError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")
    with pytest.raises(ConfigError, match="unknown option 'smoothing' for loss 'mse'"):
        losses.get({"name": "mse", "smoothing": 1})
