"""Optimizer updates against values computed by hand on a two-parameter problem.

p = [1, -2] and a constant gradient g = [0.5, 0.25], two steps each.
"""

import math

import numpy as np
import pytest

from barenet.errors import ConfigError
from barenet.optim import optimizers

pytestmark = pytest.mark.usefixtures("kernel_set")  # every test on both kernel sets

G = np.array([0.5, 0.25])


def run(opt, steps=2, grad=G):
    p = np.array([1.0, -2.0])
    trail = []
    for _ in range(steps):
        opt.step([p], [grad.copy()])
        trail.append(p.copy())
    return trail


def test_sgd_plain():
    p1, p2 = run(optimizers.SGD(lr=0.1))
    np.testing.assert_allclose(p1, [0.95, -2.025], rtol=1e-14)
    np.testing.assert_allclose(p2, [0.90, -2.05], rtol=1e-14)


def test_sgd_momentum():
    # v1 = g; v2 = 0.9 g + g = 1.9 g
    p1, p2 = run(optimizers.SGD(lr=0.1, momentum=0.9))
    np.testing.assert_allclose(p1, [0.95, -2.025], rtol=1e-14)
    np.testing.assert_allclose(p2, [0.855, -2.0725], rtol=1e-14)


def test_sgd_nesterov():
    # step 1 direction g + 0.9 g = 1.9 g; step 2: v = 1.9 g, direction g + 0.9 * 1.9 g = 2.71 g
    p1, p2 = run(optimizers.SGD(lr=0.1, momentum=0.9, nesterov=True))
    np.testing.assert_allclose(p1, [0.905, -2.0475], rtol=1e-14)
    np.testing.assert_allclose(p2, [0.7695, -2.11525], rtol=1e-14)


def test_sgd_weight_decay():
    # g' = g + 0.1 p = [0.6, 0.05]
    (p1,) = run(optimizers.SGD(lr=0.1, weight_decay=0.1), steps=1)
    np.testing.assert_allclose(p1, [0.94, -2.005], rtol=1e-14)


def test_sgd_dampening():
    # v1 = g (first step), v2 = 0.9 g + 0.5 g = 1.4 g
    p1, p2 = run(optimizers.SGD(lr=0.1, momentum=0.9, dampening=0.5))
    np.testing.assert_allclose(p2, p1 - 0.1 * 1.4 * G, rtol=1e-14)


def test_adam_bias_correction_makes_first_steps_lr_sized():
    # with a constant gradient, m_hat = g and v_hat = g^2 at every step: p moves lr * g / (|g| + eps)
    p1, p2 = run(optimizers.Adam(lr=0.1))
    step = 0.1 * G / (np.abs(G) + 1e-8)
    np.testing.assert_allclose(p1, [1.0, -2.0] - step, rtol=1e-12)
    np.testing.assert_allclose(p2, [1.0, -2.0] - 2 * step, rtol=1e-12)


def test_adam_l2_weight_decay_changes_gradient():
    (p1,) = run(optimizers.Adam(lr=0.1, weight_decay=0.1), steps=1)
    g = G + 0.1 * np.array([1.0, -2.0])  # [0.6, 0.05]
    np.testing.assert_allclose(p1, [1.0, -2.0] - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)


def test_adamw_decoupled_decay():
    # p *= 1 - lr * wd = 0.99, then the Adam step of -0.1 * sign(g)
    (p1,) = run(optimizers.AdamW(lr=0.1, weight_decay=0.1), steps=1)
    np.testing.assert_allclose(p1, [0.99 - 0.1, -1.98 - 0.1], rtol=1e-7)


def test_rmsprop_plain():
    # s = 0.01 g^2: the step is lr * g / (0.1 |g|) = 0.1 * sign(g)
    (p1,) = run(optimizers.RMSprop(lr=0.01), steps=1)
    np.testing.assert_allclose(p1, [0.9, -2.1], rtol=1e-7)


def test_rmsprop_momentum():
    p1, p2 = run(optimizers.RMSprop(lr=0.01, momentum=0.9))
    buf2 = 0.9 * 10 + 1 / math.sqrt(0.0199)
    np.testing.assert_allclose(p2, p1 - 0.01 * buf2 * np.sign(G), rtol=1e-7)


def test_rmsprop_centered():
    # s = 0.01 g^2, mean grad 0.01 g: denominator |g| sqrt(0.01 - 0.0001)
    (p1,) = run(optimizers.RMSprop(lr=0.01, centered=True), steps=1)
    np.testing.assert_allclose(p1, [1.0, -2.0] - 0.01 / math.sqrt(0.0099) * np.sign(G), rtol=1e-7)


def test_clip_by_global_norm():
    # gradient [3, 4] has norm 5; clipped to norm 1 it is [0.6, 0.8]
    (p1,) = run(optimizers.SGD(lr=1.0, clipnorm=1.0), steps=1, grad=np.array([3.0, 4.0]))
    np.testing.assert_allclose(p1, [1.0 - 0.6, -2.0 - 0.8], rtol=1e-6)
    (p_small,) = run(optimizers.SGD(lr=1.0, clipnorm=10.0), steps=1, grad=np.array([3.0, 4.0]))
    np.testing.assert_allclose(p_small, [-2.0, -6.0])


def test_schedule_drives_lr_per_step():
    opt = optimizers.SGD(lr={"name": "step", "lr": 0.1, "step_size": 1, "gamma": 0.5, "per": "step"})
    p1, p2 = run(opt)
    np.testing.assert_allclose(p1, [1.0, -2.0] - 0.1 * G)
    np.testing.assert_allclose(p2, p1 - 0.05 * G)


# lr 0 at the start (warm-up from zero) and in the middle: the velocity must survive both.
WARMUP_ZERO = {"name": "cosine", "lr": 0.1, "total": 12, "warmup": 3, "per": "step"}


def run_steps(opt, grads, p=None):
    p = np.array([1.0, -2.0]) if p is None else p
    trail = []
    for grad in grads:
        opt.step([p], [grad.copy()])
        trail.append(p.copy())
    return trail


@pytest.mark.parametrize("options", [{"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}])
def test_sgd_resumes_exactly_from_a_state_dict(options):
    grads = [G * (1 + i) for i in range(6)]
    full = run_steps(optimizers.SGD(lr=WARMUP_ZERO, **options), grads)
    first = optimizers.SGD(lr=WARMUP_ZERO, **options)
    p = run_steps(first, grads[:4])[-1]
    second = optimizers.SGD(lr=WARMUP_ZERO, **options)
    second.load_state_dict(first.state_dict(), [p])
    np.testing.assert_array_equal(run_steps(second, grads[4:], p)[-1], full[-1])


def test_velocity_saved_lr_folded_by_older_barenet_is_unfolded_on_load():
    """Before the fused kernels, plain SGD stored its velocity as lr x v and said so in 'velocity_scale'."""
    grads = [G * (1 + i) for i in range(4)]
    first = optimizers.SGD(lr=0.1, momentum=0.9)
    p = run_steps(first, grads[:2])[-1]
    state = first.state_dict()
    velocity = state["arrays"]["0.velocity"]
    old = {"arrays": {"0.velocity": velocity * 0.1},
           "scalars": {**state["scalars"], "flags": [{"velocity_scale": 0.1}]}}
    second = optimizers.SGD(lr=0.1, momentum=0.9)
    second.load_state_dict(old, [p.copy()])
    np.testing.assert_allclose(second.state[0]["velocity"], velocity, rtol=1e-15)
    assert "velocity_scale" not in second.state[0] and second.state_dict()["scalars"]["flags"] == [{}]


def test_optimizers_refuse_non_contiguous_arrays():
    p = np.ones((4, 4))[:, ::2]
    with pytest.raises(ConfigError, match="contiguous"):
        optimizers.SGD(lr=0.1).step([p], [np.ones_like(p)])


def test_float32_params_stay_float32():
    p = np.ones(3, dtype=np.float32)
    for opt in (optimizers.SGD(lr=0.1, momentum=0.9, weight_decay=1e-4), optimizers.Adam(), optimizers.RMSprop(),
                optimizers.AdamW()):
        opt.step([p], [np.ones(3, dtype=np.float32)])
        assert p.dtype == np.float32


def test_state_dict_round_trip():
    a = optimizers.Adam(lr=0.01)
    p = np.array([1.0, 2.0])
    a.step([p], [G.copy()])
    state = a.state_dict()
    b = optimizers.Adam(lr=0.01)
    b.load_state_dict(state, [p])
    pa, pb = p.copy(), p.copy()
    a.step([pa], [G.copy()])
    b.step([pb], [G.copy()])
    np.testing.assert_array_equal(pa, pb)


@pytest.mark.parametrize("bad", [
    {"name": "sgd", "lr": -0.1}, {"name": "sgd", "lr": float("nan")}, {"name": "sgd", "momentum": -1},
    {"name": "sgd", "nesterov": True}, {"name": "adam", "beta1": 1.0}, {"name": "lbfgs"},
    {"name": "sgd", "learning_rate": 0.1},
])
def test_bad_options_raise_config_error(bad):
    with pytest.raises(ConfigError):
        optimizers.get(bad)


def test_negative_learning_rate_message():
    with pytest.raises(ConfigError, match="learning rate must be a non-negative number, got -0.1"):
        optimizers.SGD(lr=-0.1)
