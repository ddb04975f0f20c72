"""Kernels: the element-wise work of a training step, written side by side in three forms.

A step's matrix products go to BLAS (the backend's GEMM provider). Everything between
them (bias add and activation, the activation's derivative and the bias gradient, the
softmax cross-entropy gradient, dropout, the optimizer update, turning a uint8 batch
into floats, warping augmented images) is element-wise work. Each such operation is
written in the module named for its concept:

    name(...)         the reference, in plain NumPy: where the maths is read
    name_fused(...)   the same maths as explicit loops, compiled by numba into one pass
                      over memory; must equal the reference (float32 to rounding,
                      float64 to 1e-12), which the tests check
    CUDA[name]        the same loop body as CUDA C++ for CuPy (`backend/cuda/kernels.py`
                      compiles it), built from the same constants (activation codes)

A set of them is a `KernelSet`: `reference()` and `fused()` here, `CudaKernels` on a GPU.
Nobody picks a set by looking at an array: a model's `Backend` carries one (`BARENET_KERNELS=numpy`
makes the CPU backend carry the reference), and layers, losses and optimizers call
`backend.kernels.name(...)`. `tests/test_kernel_protocol.py` checks every set against
`KernelSet`: the same names, the same parameters, the same constants.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Protocol

from . import activations, batches, dropout, losses, products, updates, warps

MODULES = (activations, batches, dropout, losses, products, updates, warps)


class KernelSet(Protocol):
    """The kernels every backend provides, by name; each writes into the arrays it is given.
    Shapes and maths: the concept modules' docstrings."""

    name: str

    def bias_act(self, y, b, act, alpha) -> None: ...
    def act_backward(self, grad_out, y, act, alpha, grad_pre, grad_b) -> None: ...
    def softmax_xent(self, logits, targets, divisor, grad): ...
    def dropout_forward(self, x, key, offset, rate, scale, keep, out) -> None: ...
    def dropout_backward(self, grad_out, keep, scale, grad_in) -> None: ...
    def gather_scaled(self, x, index, factor, out) -> None: ...
    def vector_matrix(self, x, W, out) -> None: ...
    def outer(self, x, grad, out) -> None: ...
    def sgd(self, p, g, v, lr, momentum, dampening, nesterov, wd, first) -> None: ...
    def sgd_outer(self, p, x, grad, v, lr, momentum, dampening, nesterov, wd, first) -> None: ...
    def adam(self, p, g, m, s, lr, beta1, beta2, eps, wd, decoupled, t) -> None: ...
    def rmsprop(self, p, g, s, c, u, lr, alpha, eps, momentum, centered, wd) -> None: ...
    def warp_bilinear(self, x, index, matrices, displacement, height, width, factor, out) -> None: ...


def names() -> list[str]:
    """Every kernel's name, in the order of the concept modules."""
    return [name for module in MODULES for name in module.KERNELS]


@functools.cache
def reference() -> SimpleNamespace:
    """The NumPy implementations, by name."""
    return SimpleNamespace(name="numpy", **{name: pair[0] for module in MODULES
                                            for name, pair in module.KERNELS.items()})


@functools.cache
def fused() -> SimpleNamespace:
    """The numba-compiled implementations, by name (each compiled on its first call, cached on disk)."""
    import numba  # imported here: `barenet --help` and the NumPy path never pay for it

    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    return SimpleNamespace(name="fused", **{name: jit(pair[1]) for module in MODULES
                                            for name, pair in module.KERNELS.items()})


def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True
