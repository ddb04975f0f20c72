"""The CUDA kernel set: every kernel of `barenet.kernels` for CuPy arrays on an NVIDIA GPU.

Each method has the name and parameters of its CPU pair (`kernels.KernelSet`; a CPU test
checks it) and launches the CUDA C++ written beside that pair in its concept module
(`kernels/activations.py`'s CUDA table, ...), compiled by CuPy's `ElementwiseKernel` on first
launch. What differs from the CPU: `softmax_xent` returns its summed loss as a 0-d device array
(reading it would wait for the device), and the bias gradient is CuPy's column sum.

    ops = CudaKernels(cupy)       # a GPU backend carries one: backend.get_backend("cuda").kernels
    ops.bias_act(y, b, RELU, alpha)
"""

from __future__ import annotations

import math
from typing import Any

from ...kernels import MODULES, activations


def sources() -> dict[str, tuple[str, str, str]]:
    """Every CUDA kernel's (input parameters, output parameters, body), by name, from the concept modules."""
    return {name: source for module in MODULES for name, source in getattr(module, "CUDA", {}).items()}


class CudaKernels:
    """The CUDA implementations under the CPU sets' names and signatures."""

    name = "cuda"
    codes = activations.CODES  # the activation codes the CUDA switch statements were generated from

    def __init__(self, cupy: Any):
        self.cp = cupy
        self.k = {name: cupy.ElementwiseKernel(inputs, outputs, body, f"barenet_{name}")
                  for name, (inputs, outputs, body) in sources().items()}

    def bias_act(self, y, b, act, alpha):
        self.k["bias_act"](b, int(b.size > 0), act, y.dtype.type(alpha), y.shape[1], y)

    def act_backward(self, grad_out, y, act, alpha, grad_pre, grad_b):
        self.k["act_backward"](grad_out, y, act, y.dtype.type(alpha), grad_pre)
        if grad_b.size:
            self.cp.sum(grad_pre, axis=0, out=grad_b)

    def softmax_xent(self, logits, targets, divisor, grad):
        """As the CPU kernel, but the summed loss comes back as a 0-d float64 device array: reading it
        would wait for the device, so the Trainer adds it up there and reads the epoch's total once."""
        rows = self.cp.empty(logits.shape[0], dtype=self.cp.float64)
        self.k["softmax_xent"](logits, targets, logits.shape[1], logits.dtype.type(1.0 / divisor), grad, rows)
        return rows.sum()

    def dropout_forward(self, x, key, offset, rate, scale, keep, out):
        self.k["dropout_forward"](x, self.cp.uint64(key), self.cp.uint64(offset), x.dtype.type(rate),
                                  x.dtype.type(scale), keep, out)

    def dropout_backward(self, grad_out, keep, scale, grad_in):
        self.k["dropout_backward"](grad_out, keep, grad_out.dtype.type(scale), grad_in)

    def gather_scaled(self, x, index, factor, out):
        self.k["gather_scaled"](x, index, x.shape[1], out.dtype.type(factor), out)

    def vector_matrix(self, x, W, out):
        self.k["vector_matrix"](x, W, W.shape[0], W.shape[1], out)

    def outer(self, x, grad, out):
        self.k["outer"](x, grad, out.shape[1], out)

    def sgd(self, p, g, v, lr, momentum, dampening, nesterov, wd, first):
        t = p.dtype.type
        if not momentum:
            self.k["sgd_plain"](g, t(lr), t(wd), p)
        else:
            self.k["sgd"](g, t(lr), t(momentum), t(1.0 - dampening), t(wd), bool(nesterov), bool(first), p, v)

    def sgd_outer(self, p, x, grad, v, lr, momentum, dampening, nesterov, wd, first):
        t = p.dtype.type
        self.k["sgd_outer"](x, grad, p.shape[1], t(lr), t(momentum), t(1.0 - dampening), t(wd), bool(nesterov),
                            bool(first), bool(momentum), p, v)

    def adam(self, p, g, m, s, lr, beta1, beta2, eps, wd, decoupled, t):
        cast = p.dtype.type
        decay, l2 = (1.0 - lr * wd, 0.0) if decoupled else (1.0, wd)
        self.k["adam"](g, cast(lr / (1.0 - beta1 ** t)), cast(math.sqrt(1.0 - beta2 ** t)), cast(beta1), cast(beta2),
                       cast(1.0 - beta1), cast(1.0 - beta2), cast(eps), cast(decay), cast(l2), p, m, s)

    def rmsprop(self, p, g, s, c, u, lr, alpha, eps, momentum, centered, wd):
        t = p.dtype.type
        c = c if c.size else self.cp.empty_like(p)
        u = u if u.size else self.cp.empty_like(p)
        self.k["rmsprop"](g, t(lr), t(alpha), t(1.0 - alpha), t(eps), t(momentum), t(wd), bool(centered),
                          bool(momentum), p, s, c, u)

    def warp_bilinear(self, x, index, matrices, displacement, height, width, factor, out):
        elastic = int(displacement.shape[0] > 0)
        fields = displacement if elastic else matrices  # any float32 array: never read without elastic fields
        self.k["warp_bilinear"](x, index, matrices, fields, elastic, height, width, self.cp.float32(factor), out)
