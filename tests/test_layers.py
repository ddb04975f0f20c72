"""Finite-difference gradient checks (float64) for every layer, input and parameters."""

import numpy as np
import pytest

from barenet.errors import ConfigError, ShapeError
from barenet.nn import layers
from helpers import numeric_gradient, relative_error

pytestmark = pytest.mark.usefixtures("kernel_set")  # every test on both kernel sets

TOL = 1e-6


def check_layer(layer, x, rng, fixed_rng_seed=None):
    """Compare backward() with central differences of sum(forward(x) * weights)."""
    out_weights = None

    def reset():
        if fixed_rng_seed is not None:  # dropout: same mask for every evaluation
            layer.build(np.random.default_rng(fixed_rng_seed))

    def loss():
        nonlocal out_weights
        reset()
        out = layer.forward(x, training=True)
        if out_weights is None:
            out_weights = rng.standard_normal(out.shape)
        return float((out * out_weights).sum())

    loss()
    reset()
    layer.forward(x, training=True)
    grad_in = np.array(layer.backward(out_weights.copy()), copy=True)
    analytic = {k: g.copy() for k, g in layer.grads.items()}
    assert relative_error(grad_in, numeric_gradient(loss, x)) < TOL
    for key, param in layer.params.items():
        err = relative_error(analytic[key], numeric_gradient(loss, param))
        assert err < TOL, f"{key}: relative error {err}"


def away_from_zero(rng, shape):
    """Values with |v| >= 0.05 so finite differences never straddle a ReLU kink."""
    v = rng.standard_normal(shape)
    return np.where(np.abs(v) < 0.05, 0.05 * np.sign(v) + 0.05 * (v == 0), v)


@pytest.mark.parametrize("batch", [1, 5])
def test_dense_gradients(rng, batch):
    layer = layers.Dense(7, 4)
    layer.build(rng, np.float64)
    check_layer(layer, rng.standard_normal((batch, 7)), rng)


def test_dense_without_bias_and_max_norm(rng):
    layer = layers.Dense(6, 3, use_bias=False, max_norm=0.5)
    layer.build(rng, np.float64)
    assert "b" not in layer.params
    check_layer(layer, rng.standard_normal((4, 6)), rng)
    layer.params["W"] *= 10
    layer.apply_constraints()
    assert np.all(np.linalg.norm(layer.params["W"], axis=0) <= 0.5 + 1e-12)


@pytest.mark.parametrize("cls", [layers.ReLU, layers.LeakyReLU, layers.Sigmoid, layers.Tanh, layers.Softmax])
def test_activation_gradients(rng, cls):
    check_layer(cls(), away_from_zero(rng, (4, 6)), rng)


def test_flatten_gradients(rng):
    check_layer(layers.Flatten(), rng.standard_normal((3, 2, 4)), rng)


def test_dropout_gradients_with_fixed_mask(rng):
    layer = layers.Dropout(0.4)
    layer.build(np.random.default_rng(0), np.float64)
    check_layer(layer, rng.standard_normal((5, 8)), rng, fixed_rng_seed=7)


def test_relu_derivative_is_one_above_zero_not_above_one():
    layer = layers.ReLU()
    x = np.array([[-1.0, 0.5, 2.0]])
    layer.forward(x, training=True)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), [[0.0, 1.0, 1.0]])


def test_softmax_backward_is_the_jacobian_product_not_elementwise(rng):
    x = rng.standard_normal((2, 5))
    layer = layers.Softmax()
    s = layer.forward(x, training=True)
    g = rng.standard_normal((2, 5))
    expected = np.stack([(np.diag(si) - np.outer(si, si)) @ gi for si, gi in zip(s, g)])
    np.testing.assert_allclose(layer.backward(g), expected, rtol=1e-12, atol=1e-15)
    assert not np.allclose(layer.backward(g), g * s * (1 - s))


def test_sigmoid_extreme_inputs_no_overflow():
    layer = layers.Sigmoid()
    out = layer.forward(np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]]))
    np.testing.assert_allclose(out, [[0.0, 1.9287498479639178e-22, 0.5, 1.0, 1.0]], rtol=1e-12)
    assert np.isfinite(layer.backward(np.ones_like(out))).all()
    out32 = layers.Sigmoid().forward(np.array([[-1e4, 1e4]], dtype=np.float32))
    assert out32.dtype == np.float32 and np.isfinite(out32).all()


def test_softmax_extreme_inputs():
    out = layers.Softmax().forward(np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]]))
    np.testing.assert_allclose(out, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]])


def test_dropout_rate_is_drop_probability_and_inverted_scaling():
    layer = layers.Dropout(0.25)
    layer.build(np.random.default_rng(0))
    x = np.ones((200, 500), dtype=np.float32)
    out = layer.forward(x, training=True)
    assert out.dtype == np.float32
    dropped = (out == 0).mean()
    assert abs(dropped - 0.25) < 0.01
    np.testing.assert_allclose(out[out != 0], 1 / 0.75, rtol=1e-6)
    assert layer.forward(x, training=False) is x


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_rates(rate):
    with pytest.raises(ConfigError, match="probability to drop"):
        layers.Dropout(rate)


def test_dense_shape_error_names_both_shapes(rng):
    layer = layers.Dense(4, 2)
    layer.build(rng)
    with pytest.raises(ShapeError, match=r"\(batch, 4\).*\(3, 5\)"):
        layer.forward(np.zeros((3, 5), dtype=np.float32))


def test_dense_bad_sizes():
    with pytest.raises(ConfigError, match="positive integer"):
        layers.Dense(0, 3)


def test_unknown_activation():
    with pytest.raises(ConfigError, match="unknown activation 'relux'"):
        layers.activation("relux")


def test_layer_config_round_trip():
    for layer in [layers.Dense(3, 2, init="glorot_uniform", max_norm=3.0), layers.Dropout(0.3),
                  layers.LeakyReLU(0.2), layers.Softmax(), layers.Flatten()]:
        again = layers.from_config(layer.get_config())
        assert type(again) is type(layer) and again.get_config() == layer.get_config()
    with pytest.raises(ConfigError, match="unknown layer type"):
        layers.from_config({"type": "os.system"})


def test_float32_layers_keep_float32(rng):
    layer = layers.Dense(5, 3)
    layer.build(rng, np.float32)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    out = layer.forward(x, training=True)
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    for cls in (layers.ReLU, layers.LeakyReLU, layers.Sigmoid, layers.Tanh, layers.Softmax):
        act = cls()
        assert act.forward(x, training=True).dtype == np.float32
        assert act.backward(x).dtype == np.float32
