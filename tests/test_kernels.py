"""Every fused (numba) kernel equals its NumPy reference: float32 to rounding (a few ulps of O(1) values),
float64 to 1e-12.

The fused set is the default path; the reference is where the maths is read. Both
sets run every gradient check (the `kernel_set` fixture in test_layers, test_losses,
test_optimizers); here each kernel is compared directly, and whole models trained
on both paths are compared step for step.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import barenet as bn
from barenet import backend, kernels
from barenet.kernels import activations, dropout
from barenet.nn import fusion, layers
from helpers import KERNEL_TOLERANCE, assert_kernel_close, numeric_gradient, relative_error

REFERENCE, FUSED = kernels.reference(), kernels.fused()
DTYPES = [np.float32, np.float64]
ACTIVATIONS = list(activations.CODES.values())


def both(name, *arrays_and_scalars, compare):
    """Run kernel `name` on copies of the arguments with each set; compare the argument indices given."""
    results = []
    for impl in (REFERENCE, FUSED):
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in arrays_and_scalars]
        value = getattr(impl, name)(*args)
        results.append((value, [args[i] for i in compare]))
    return results


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(1, 7), (33, 50)])
@pytest.mark.parametrize("bias", [True, False])
def test_bias_act_and_its_backward(dtype, act, shape, bias):
    rng = np.random.default_rng(act)
    y = (rng.standard_normal(shape) * 3).astype(dtype)
    b = rng.standard_normal(shape[1]).astype(dtype) if bias else np.empty(0, dtype)
    alpha = dtype(0.1)
    (_, ref), (_, got) = both("bias_act", y, b, act, alpha, compare=[0])
    assert_kernel_close(ref, got, dtype)
    out, grad_out = ref[0], rng.standard_normal(shape).astype(dtype)
    grad_b = np.zeros(shape[1], dtype) if bias else np.empty(0, dtype)
    (_, ref), (_, got) = both("act_backward", grad_out, out, act, alpha, np.empty_like(out), grad_b,
                              compare=[4, 5])
    assert_kernel_close(ref, got, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("divisor", [1.0, 17.0])
def test_softmax_cross_entropy_loss_and_gradient(dtype, divisor):
    rng = np.random.default_rng(2)
    logits = (rng.standard_normal((17, 10)) * 30).astype(dtype)  # large logits: the max shift matters
    targets = rng.integers(0, 10, 17)
    (ref_loss, ref), (got_loss, got) = both("softmax_xent", logits, targets, divisor, np.empty_like(logits),
                                            compare=[3])
    assert_kernel_close(ref, got, dtype)
    assert got_loss == pytest.approx(ref_loss, rel=KERNEL_TOLERANCE[dtype]["rtol"] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offset", [0, 2 ** 32 - 100])  # the counter's low word wraps inside the batch
def test_dropout_forward_and_backward(dtype, offset):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 40)).astype(dtype)
    key, rate, scale = np.uint64(2_654_435_769), dtype(0.3), dtype(1 / 0.7)
    (_, ref), (_, got) = both("dropout_forward", x, key, np.uint64(offset), rate, scale, np.empty(x.shape, bool),
                              np.empty_like(x), compare=[5, 6])
    assert_kernel_close(ref, got, dtype)
    np.testing.assert_array_equal(ref[0], dropout.uniform(int(key), offset, x.shape) >= rate)
    keep = ref[0]
    (_, ref), (_, got) = both("dropout_backward", x, keep, scale, np.empty_like(x), compare=[3])
    assert_kernel_close(ref, got, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_scaled_matches_scaling_the_picked_rows(dtype):
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (50, 784), dtype=np.uint8)
    index = rng.permutation(50)[:13]
    (_, ref), (_, got) = both("gather_scaled", x, index, dtype(1 / 255), np.empty((13, 784), dtype), compare=[3])
    np.testing.assert_array_equal(got[0], ref[0])  # a cast and one multiply: exactly the same
    np.testing.assert_array_equal(ref[0], bn.data.transforms.scale(x[index], dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_outer_product_of_one_sample(dtype):
    rng = np.random.default_rng(8)
    x, grad = rng.standard_normal((1, 37)).astype(dtype), rng.standard_normal((1, 11)).astype(dtype)
    (_, ref), (_, got) = both("outer", x, grad, np.empty((37, 11), dtype), compare=[2])
    np.testing.assert_array_equal(got[0], ref[0])  # one multiply per element: exactly equal
    np.testing.assert_allclose(ref[0], x.T @ grad, **KERNEL_TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("density", [0.0, 0.2, 1.0])
def test_vector_matrix_skips_zero_inputs_and_equals_the_product(dtype, density):
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((1, 97)) * (rng.random((1, 97)) < density)).astype(dtype)
    W = rng.standard_normal((97, 23)).astype(dtype)
    (_, ref), (_, got) = both("vector_matrix", x, W, np.full((1, 23), np.nan, dtype), compare=[2])
    assert_kernel_close(ref, got, dtype)
    np.testing.assert_allclose(ref[0], x @ W, **KERNEL_TOLERANCE[dtype])


def test_vector_matrix_does_not_read_the_rows_of_zero_inputs():
    x, W = np.array([[0.0, 2.0, 0.0]], np.float32), np.ones((3, 4), np.float32)
    W[0] = W[2] = np.nan  # read, they would make every output NaN
    out = np.empty((1, 4), np.float32)
    FUSED.vector_matrix(x, W, out)
    np.testing.assert_array_equal(out, [[2.0, 2.0, 2.0, 2.0]])


UPDATES = {
    "sgd": [dict(momentum=0.0, dampening=0.0, nesterov=False, wd=0.0), dict(momentum=0.9, dampening=0.0,
            nesterov=True, wd=1e-3), dict(momentum=0.9, dampening=0.5, nesterov=False, wd=0.0)],
    "adam": [dict(wd=0.0, decoupled=False), dict(wd=0.01, decoupled=False), dict(wd=0.01, decoupled=True)],
    "rmsprop": [dict(momentum=0.0, centered=False, wd=0.0), dict(momentum=0.9, centered=True, wd=1e-3)],
}


def update_args(name, options, p, g, state, step):
    if name == "sgd":
        return (p, g, state[0], 0.05, options["momentum"], options["dampening"], options["nesterov"],
                options["wd"], step == 1)
    if name == "adam":
        return (p, g, state[0], state[1], 0.01, 0.9, 0.999, 1e-8, options["wd"], options["decoupled"], step)
    return (p, g, state[0], state[1], state[2], 0.01, 0.99, 1e-8, options["momentum"], options["centered"],
            options["wd"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,options", [(n, o) for n, opts in UPDATES.items() for o in opts])
def test_optimizer_updates_over_several_steps(dtype, name, options):
    rng = np.random.default_rng(5)
    start = rng.standard_normal(1001).astype(dtype)
    results = []
    for impl in (REFERENCE, FUSED):
        p, state = start.copy(), [np.zeros_like(start) for _ in range(3)]
        for step in range(1, 6):
            g = np.random.default_rng(step).standard_normal(1001).astype(dtype)
            getattr(impl, name)(*update_args(name, options, p, g, state, step))
        results.append([p, *state])
    assert_kernel_close(results[0], results[1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", UPDATES["sgd"])
def test_sgd_from_a_rank_one_gradient_equals_sgd_on_the_formed_gradient(dtype, options):
    """`sgd_outer` (x, grad never formed) against `outer` + `sgd` (the gradient formed), five steps: the fused
    loop does the same float operations in the same order, so it equals the two-kernel path exactly."""
    rng = np.random.default_rng(10)
    start = rng.standard_normal((31, 9)).astype(dtype)
    results = []
    for name in ("reference", "fused", "fused, formed"):
        impl = REFERENCE if name == "reference" else FUSED
        p, v = start.copy(), (np.zeros_like(start) if options["momentum"] else start[:0])
        for step in range(1, 6):
            step_rng = np.random.default_rng(step)
            x = (step_rng.standard_normal((1, 31)) * (step_rng.random((1, 31)) < 0.5)).astype(dtype)
            grad = step_rng.standard_normal((1, 9)).astype(dtype)
            args = (0.05, options["momentum"], options["dampening"], options["nesterov"], options["wd"], step == 1)
            if name == "fused, formed":
                formed = np.empty_like(p)
                impl.outer(x, grad, formed)
                impl.sgd(p.reshape(-1), formed.reshape(-1), v.reshape(-1), *args)
            else:
                impl.sgd_outer(p, x, grad, v, *args)
        results.append((p, v))
    assert_kernel_close(results[0], results[1], dtype)
    for got, want in zip(results[1], results[2]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", ["relu", "leaky_relu", "sigmoid", "tanh", None])
def test_fused_dense_activation_gradients(kernel_set, kind):
    """The block's backward against central differences of sum(block(x) * weights), float64."""
    rng = np.random.default_rng(6)
    dense = layers.Dense(6, 5)
    dense.build(rng, np.float64)
    chain = fusion.fuse([dense] + ([layers.activation(kind)] if kind else []))
    (block,) = chain
    x, weights = rng.standard_normal((4, 6)), rng.standard_normal((4, 5))

    def loss():
        return float((block.forward(x, training=True) * weights).sum())

    loss()
    grad_in = np.array(block.backward(weights.copy()), copy=True)
    analytic = {k: g.copy() for k, g in block.grads.items()}
    assert relative_error(grad_in, numeric_gradient(loss, x)) < 1e-6
    for key, param in block.params.items():
        assert relative_error(analytic[key], numeric_gradient(loss, param)) < 1e-6, key


def test_fuse_keeps_what_it_cannot_fuse():
    chain = [layers.Dense(4, 3), layers.LeakyReLU(-0.5), layers.Dense(3, 3), layers.Dropout(0.2),
             layers.ReLU(), layers.Dense(3, 2), layers.Softmax()]
    kinds = [type(layer).__name__ for layer in fusion.fuse(chain)]
    assert kinds == ["DenseActivation", "LeakyReLU", "DenseActivation", "Dropout", "ReLU", "DenseActivation",
                     "Softmax"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", [{"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
                                       {"name": "adam", "lr": 0.003}, {"name": "rmsprop", "lr": 0.001}])
def test_training_on_both_kernel_sets_agrees(dtype, optimizer):
    rng = np.random.default_rng(7)
    x, y = rng.integers(0, 256, (96, 30), dtype=np.uint8), rng.integers(0, 4, 96)
    weights = []
    for name in ("numpy", "fused"):
        model = bn.MLP([30, 16, 12, 4], activation=["relu", "tanh"], dropout=0.2, seed=1, dtype=dtype,
                       device=backend.get_backend("cpu", kernels=name))
        model.compile(optimizer=optimizer).fit(x, y, epochs=2, batch_size=16)
        assert model.backend.kernels.name == name
        weights.append(model.get_weights())
    tolerance = {"rtol": 2e-4, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}
    for want, got in zip(*weights):
        np.testing.assert_allclose(got, want, **tolerance)


def test_unknown_kernel_set_is_a_config_error():
    with pytest.raises(bn.errors.ConfigError, match="fused' or 'numpy"):
        backend.get_backend("cpu", kernels="cuda")


def test_a_bad_kernel_environment_is_one_line_before_any_work(tmp_path):
    from clihelpers import assert_user_error, barenet, cli_env

    result = barenet("train", "--epochs", "1", "--out", tmp_path / "run", env=cli_env(BARENET_KERNELS="cuda"))
    assert_user_error(result, "BARENET_KERNELS='cuda'", "'fused' or 'numpy'")
    assert not (tmp_path / "run").exists()


def test_the_environment_selects_the_reference():
    script = "from barenet import backend; print(backend.get_backend('cpu').kernels.name)"
    for value, want in (("numpy", "numpy"), ("", "fused"), ("FUSED", "fused")):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                             env={**os.environ, "BARENET_KERNELS": value})
        assert out.stdout.strip() == want


def test_the_dropout_generator_is_uniform_and_its_counter_decides_the_draws():
    """The counter-based numbers: uniform on [0, 1) in 24-bit steps, the same for the same (key, counter) however
    they are split into calls, different for another key, and without visible correlation between neighbours."""
    u = dropout.uniform(7, 0, (200_000,))
    assert u.min() >= 0 and u.max() < 1 and np.all(u * 2 ** 24 == np.floor(u * 2 ** 24))
    counts, _ = np.histogram(u, bins=20, range=(0, 1))
    assert counts.min() > 0.95 * 10_000 and counts.max() < 1.05 * 10_000
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01
    np.testing.assert_array_equal(u[1000:1100], dropout.uniform(7, 1000, (100,)))
    assert np.mean(dropout.uniform(8, 0, (1000,)) == u[:1000]) < 0.01
