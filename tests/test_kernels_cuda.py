"""The CUDA kernels (CuPy) equal the NumPy reference: float32 to rounding, float64 to 1e-12.

Runs only where CuPy and an NVIDIA GPU are present; elsewhere every test skips,
saying so. The inputs and the comparison are those of test_kernels.py.
"""

import numpy as np
import pytest

from barenet import kernels
from barenet.backend.cuda.kernels import CudaKernels
from barenet.kernels import activations
from helpers import assert_kernel_close, cupy_with_a_device

cp = cupy_with_a_device()
CUDA = CudaKernels(cp)

DTYPES = [np.float32, np.float64]


def both(name, *args, compare):
    """Kernel `name` on host copies (reference) and device copies (CUDA); the compared arguments, on the host."""
    reference = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    device = [cp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    want = getattr(kernels.reference(), name)(*reference)
    got = getattr(CUDA, name)(*device)
    return (want, [reference[i] for i in compare]), (got, [cp.asnumpy(device[i]) for i in compare])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", list(activations.CODES.values()))
@pytest.mark.parametrize("bias", [True, False])
def test_bias_act_and_its_backward(dtype, act, bias):
    rng = np.random.default_rng(act)
    y = (rng.standard_normal((33, 50)) * 3).astype(dtype)
    b = rng.standard_normal(50).astype(dtype) if bias else np.empty(0, dtype)
    (_, ref), (_, got) = both("bias_act", y, b, act, dtype(0.1), compare=[0])
    assert_kernel_close(ref, got, dtype)
    grad_b = np.zeros(50, dtype) if bias else np.empty(0, dtype)
    (_, ref), (_, got) = both("act_backward", rng.standard_normal((33, 50)).astype(dtype), ref[0], act,
                              dtype(0.1), np.empty_like(y), grad_b, compare=[4, 5])
    assert_kernel_close(ref, got, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy(dtype):
    rng = np.random.default_rng(2)
    logits = (rng.standard_normal((17, 10)) * 30).astype(dtype)
    targets = rng.integers(0, 10, 17)
    (want, ref), (got, dev) = both("softmax_xent", logits, targets, 17.0, np.empty_like(logits), compare=[3])
    assert_kernel_close(ref, dev, dtype)
    assert float(got) == pytest.approx(want, rel=1e-5 if dtype == np.float32 else 1e-12)  # a device scalar


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_gather_and_outer(dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 40)).astype(dtype)
    (_, ref), (_, got) = both("dropout_forward", x, np.uint64(12345), np.uint64(2 ** 32 - 100), dtype(0.3),
                              dtype(1 / 0.7), np.empty(x.shape, bool), np.empty_like(x), compare=[5, 6])
    np.testing.assert_array_equal(got[0], ref[0])  # the same counter-based draws: the same mask, exactly
    assert_kernel_close(ref, got, dtype)
    (_, ref), (_, got) = both("dropout_backward", x, ref[0], dtype(1 / 0.7), np.empty_like(x), compare=[3])
    assert_kernel_close(ref, got, dtype)
    pixels, index = rng.integers(0, 256, (50, 784), dtype=np.uint8), rng.permutation(50)[:13]
    (_, ref), (_, got) = both("gather_scaled", pixels, index, dtype(1 / 255), np.empty((13, 784), dtype),
                              compare=[3])
    np.testing.assert_array_equal(got[0], ref[0])
    row, grad = rng.standard_normal((1, 37)).astype(dtype), rng.standard_normal((1, 11)).astype(dtype)
    (_, ref), (_, got) = both("outer", row, grad, np.empty((37, 11), dtype), compare=[2])
    np.testing.assert_array_equal(got[0], ref[0])


UPDATES = [
    ("sgd", lambda p, g, st, t: (p, g, st[0], 0.05, 0.0, 0.0, False, 0.0, t == 1)),
    ("sgd", lambda p, g, st, t: (p, g, st[0], 0.05, 0.9, 0.0, True, 1e-3, t == 1)),
    ("sgd", lambda p, g, st, t: (p, g, st[0], 0.05, 0.9, 0.5, False, 0.0, t == 1)),
    ("adam", lambda p, g, st, t: (p, g, st[0], st[1], 0.01, 0.9, 0.999, 1e-8, 0.01, False, t)),
    ("adam", lambda p, g, st, t: (p, g, st[0], st[1], 0.01, 0.9, 0.999, 1e-8, 0.01, True, t)),
    ("rmsprop", lambda p, g, st, t: (p, g, st[0], st[1], st[2], 0.01, 0.99, 1e-8, 0.9, True, 1e-3)),
    ("rmsprop", lambda p, g, st, t: (p, g, st[0], st[1][:0], st[2][:0], 0.01, 0.99, 1e-8, 0.0, False, 0.0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,arguments", UPDATES)
def test_optimizer_updates(dtype, name, arguments):
    rng = np.random.default_rng(5)
    start = rng.standard_normal(1001).astype(dtype)
    host = [start.copy(), [np.zeros_like(start) for _ in range(3)]]
    device = [cp.asarray(start), [cp.zeros_like(cp.asarray(start)) for _ in range(3)]]
    for step in range(1, 6):
        g = np.random.default_rng(step).standard_normal(1001).astype(dtype)
        getattr(kernels.reference(), name)(*arguments(host[0], g.copy(), host[1], step))
        getattr(CUDA, name)(*arguments(device[0], cp.asarray(g), device[1], step))
    assert_kernel_close([host[0], *host[1]], [cp.asnumpy(device[0]), *[cp.asnumpy(a) for a in device[1]]], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("elastic", [False, True])
def test_warp_bilinear(dtype, elastic):
    """The augmentation's warp on the device equals the reference (float32 coordinates on both sides)."""
    rng = np.random.default_rng(11)
    x = rng.integers(0, 256, (40, 28 * 28), dtype=np.uint8)
    index = rng.permutation(40)[:16]
    matrices = np.tile(np.array([[1.0, 0.1, -1.5], [-0.05, 0.95, 2.0]], np.float32), (16, 1, 1))
    matrices += rng.normal(0, 0.05, matrices.shape).astype(np.float32)
    fields = (rng.normal(0, 1.5, (16, 2, 28, 28)) if elastic else np.zeros((0, 2, 28, 28))).astype(np.float32)
    out = np.empty((16, 28 * 28), dtype)
    (_, ref), (_, got) = both("warp_bilinear", x, index, matrices, fields, 28, 28, 1 / 255, out, compare=[7])
    np.testing.assert_allclose(got[0], ref[0], rtol=0, atol=2e-5)  # FMA contraction on the device: a few ulps


@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_matrix_and_sgd_from_a_rank_one_gradient(dtype):
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((1, 97)) * (rng.random((1, 97)) < 0.3)).astype(dtype)
    W = rng.standard_normal((97, 23)).astype(dtype)
    (_, ref), (_, got) = both("vector_matrix", x, W, np.empty((1, 23), dtype), compare=[2])
    assert_kernel_close(ref, got, dtype)
    p, v, grad = W.copy(), np.zeros_like(W), rng.standard_normal((1, 23)).astype(dtype)
    for first in (True, False):
        (_, ref), (_, got) = both("sgd_outer", p, x, grad, v, 0.05, 0.9, 0.0, True, 1e-3, first, compare=[0, 3])
        assert_kernel_close(ref, got, dtype)
        p, v = ref
