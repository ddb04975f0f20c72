"""The kernels again, for CuPy arrays on an NVIDIA GPU (the "cuda" device's kernel set).

Each entry has the signature of its CPU pair (`activations.bias_act`, ...), and the
same maths as the fused loop beside that pair, written as CUDA C++ for CuPy's
`ElementwiseKernel`: one thread per element (per row for the softmax
cross-entropy), constants in the array's type `T`. The reference they must equal is
still the NumPy one: `tests/test_kernels_cuda.py` compares them on a device.

    ops = kernels.cuda()          # needs cupy (pip install "barenet[gpu]") and a GPU
    ops.bias_act(y, b, RELU, alpha)
"""

from __future__ import annotations

import math
from typing import Any

ACTIVATION = """
    if (act == 1) v = v > (T)0 ? v : (T)0;
    else if (act == 2) v = v > (T)0 ? v : alpha * v;
    else if (act == 3) { T e = exp(-fabs(v)); v = v >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e); }
    else if (act == 4) v = tanh(v);
"""
DERIVATIVE = """
    T d = g;
    if (act == 1) d = y > (T)0 ? g : (T)0;
    else if (act == 2) d = y > (T)0 ? g : alpha * g;
    else if (act == 3) d = g * (y * ((T)1 - y));
    else if (act == 4) d = g * ((T)1 - y * y);
    out = d;
"""
SOFTMAX_XENT = """
    const ptrdiff_t base = i * classes;
    T top = z[base];
    for (int k = 1; k < classes; k++) top = z[base + k] > top ? z[base + k] : top;
    T norm = 0;
    for (int k = 0; k < classes; k++) { T e = exp(z[base + k] - top); grad[base + k] = e; norm += e; }
    const ptrdiff_t y = t[i];
    row_loss = log((double)norm) - (double)(z[base + y] - top);
    const T scale = inverse / norm;
    for (int k = 0; k < classes; k++) grad[base + k] *= scale;
    grad[base + y] -= inverse;
"""
SGD = """
    T grad = g + wd * p;
    T vel = first ? grad : mu * v + keep * grad;
    v = vel;
    p -= lr * (nesterov ? grad + mu * vel : vel);
"""
ADAM = """
    T grad = g + l2 * p;
    T mean = b1 * m + c1 * grad;
    T square = b2 * s + c2 * (grad * grad);
    m = mean;
    s = square;
    p = p * decay - step * (mean / (sqrt(square) / root2 + eps));
"""
RMSPROP = """
    T grad = g + wd * p;
    T square = a * s + keep * grad * grad;
    s = square;
    if (centered) { T mean = a * c + keep * grad; c = mean; square -= mean * mean; }
    T direction = grad / (sqrt(square) + eps);
    if (with_momentum) { direction = mu * u + direction; u = direction; }
    p -= lr * direction;
"""


def _compile(cp) -> dict[str, Any]:
    kernel = cp.ElementwiseKernel
    return {
        "bias_act": kernel("raw T b, int32 with_bias, int32 act, T alpha, int64 units", "T y",
                           "T v = y; if (with_bias) v += b[i % units];" + ACTIVATION + "y = v;", "barenet_bias_act"),
        "act_backward": kernel("T g, T y, int32 act, T alpha", "T out", DERIVATIVE, "barenet_act_backward"),
        "softmax_xent": kernel("raw T z, raw I t, int32 classes, T inverse", "raw T grad, float64 row_loss",
                               SOFTMAX_XENT, "barenet_softmax_xent"),
        "dropout_forward": kernel("T x, U u, U rate, T scale", "bool keep, T out",
                                  "keep = u >= rate; out = keep ? x * scale : (T)0;", "barenet_dropout_forward"),
        "dropout_backward": kernel("T g, bool keep, T scale", "T out", "out = keep ? g * scale : (T)0;",
                                   "barenet_dropout_backward"),
        "gather_scaled": kernel("raw X x, raw I index, int64 features, T factor", "T out",
                                "out = (T)x[index[i / features] * features + i % features] * factor;",
                                "barenet_gather_scaled"),
        "outer": kernel("raw T x, raw T g, int64 outputs", "T out", "out = x[i / outputs] * g[i % outputs];",
                        "barenet_outer"),
        "sgd_plain": kernel("T g, T lr, T wd", "T p", "p -= lr * (g + wd * p);", "barenet_sgd_plain"),
        "sgd": kernel("T g, T lr, T mu, T keep, T wd, bool nesterov, bool first", "T p, T v", SGD, "barenet_sgd"),
        "adam": kernel("T g, T step, T root2, T b1, T b2, T c1, T c2, T eps, T decay, T l2", "T p, T m, T s",
                       ADAM, "barenet_adam"),
        "rmsprop": kernel("T g, T lr, T a, T keep, T eps, T mu, T wd, bool centered, bool with_momentum",
                          "T p, T s, T c, T u", RMSPROP, "barenet_rmsprop"),
    }


class CudaKernels:
    """The CUDA implementations under the CPU sets' names and signatures (compiled on first launch)."""

    def __init__(self):
        import cupy as cp

        self.cp, self.k = cp, _compile(cp)

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

    def dropout_forward(self, x, uniform, rate, scale, keep, out):
        self.k["dropout_forward"](x, uniform, uniform.dtype.type(rate), x.dtype.type(scale), keep, out)

    def dropout_backward(self, grad_out, keep, scale, grad_in):
        self.k["dropout_backward"](grad_out, keep, grad_out.dtype.type(scale), grad_in)

    def gather_scaled(self, x, index, factor, out):
        self.k["gather_scaled"](x, index, x.shape[1], out.dtype.type(factor), out)

    def outer(self, x, grad, out):
        self.k["outer"](x, grad, out.shape[1], out)

    def sgd(self, p, g, v, lr, momentum, dampening, nesterov, wd, first):
        t = p.dtype.type
        if not momentum:
            self.k["sgd_plain"](g, t(lr), t(wd), p)
        else:
            self.k["sgd"](g, t(lr), t(momentum), t(1.0 - dampening), t(wd), bool(nesterov), bool(first), p, v)

    def adam(self, p, g, m, s, lr, beta1, beta2, eps, wd, decoupled, step):
        t = p.dtype.type
        decay, l2 = (1.0 - lr * wd, 0.0) if decoupled else (1.0, wd)
        self.k["adam"](g, t(lr / (1.0 - beta1 ** step)), t(math.sqrt(1.0 - beta2 ** step)), t(beta1), t(beta2),
                       t(1.0 - beta1), t(1.0 - beta2), t(eps), t(decay), t(l2), p, m, s)

    def rmsprop(self, p, g, s, c, u, lr, alpha, eps, momentum, centered, wd):
        t = p.dtype.type
        c = c if c.size else self.cp.empty_like(p)
        u = u if u.size else self.cp.empty_like(p)
        self.k["rmsprop"](g, t(lr), t(alpha), t(1.0 - alpha), t(eps), t(momentum), t(wd), bool(centered),
                          bool(momentum), p, s, c, u)


def kernel_set() -> CudaKernels:
    return CudaKernels()
