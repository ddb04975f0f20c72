"""Bias add with activation, and the activation's derivative with the bias gradient.

A Dense layer followed by an activation computes, per sample row i and unit j,

    forward    y[i, j] = act(x @ W + b)[i, j]                (the matrix product is BLAS's)
    backward   grad_pre[i, j] = grad_out[i, j] * act'(pre[i, j])
               grad_b[j] = sum over i of grad_pre[i, j]

Every activation here has a derivative that can be written from its *output*
y instead of its input, so backward needs no copy of the pre-activation:

    identity   y = x                        act' = 1
    relu       y = max(x, 0)                act' = 1 if y > 0 else 0  (not `x > 1`)
    leaky      y = x if x > 0 else a x      act' = 1 if y > 0 else a  (a >= 0 keeps the sign)
    sigmoid    y = 1 / (1 + exp(-x))        act' = y (1 - y)
    tanh       y = tanh(x)                  act' = 1 - y^2

Shapes: y, grad_out, grad_pre (batch, units); b, grad_b (units,), or (0,) when
the layer has no bias.
"""

from __future__ import annotations

import math

import numpy as np

IDENTITY, RELU, LEAKY_RELU, SIGMOID, TANH = range(5)
CODES = {"identity": IDENTITY, "relu": RELU, "leaky_relu": LEAKY_RELU, "sigmoid": SIGMOID, "tanh": TANH}


def bias_act(y, b, act: int, alpha: float) -> None:
    """In place: y <- act(y + b)."""
    if b.size:
        y += b
    if act == RELU:
        np.maximum(y, 0, out=y)
    elif act == LEAKY_RELU:
        np.multiply(y, np.where(y > 0, 1.0, alpha).astype(y.dtype), out=y)
    elif act == SIGMOID:
        e = np.exp(-np.abs(y))
        y[...] = np.where(y >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    elif act == TANH:
        np.tanh(y, out=y)


def bias_act_fused(y, b, act, alpha):
    # One loop per activation, the branch outside it, and every constant in y's dtype:
    # that is what lets the compiler vectorise the loops (a branch or a float64 constant inside stops it).
    dtype = y.dtype.type
    zero, one, alpha = dtype(0.0), dtype(1.0), dtype(alpha)
    rows, units = y.shape
    with_bias = b.size > 0
    for i in range(rows):
        row = y[i]
        if with_bias:
            for j in range(units):
                row[j] += b[j]
        if act == RELU:
            for j in range(units):
                row[j] = row[j] if row[j] > zero else zero
        elif act == LEAKY_RELU:
            for j in range(units):
                row[j] = row[j] if row[j] > zero else alpha * row[j]
        elif act == SIGMOID:
            for j in range(units):
                e = math.exp(-abs(row[j]))
                row[j] = one / (one + e) if row[j] >= zero else e / (one + e)
        elif act == TANH:
            for j in range(units):
                row[j] = math.tanh(row[j])


def act_backward(grad_out, y, act: int, alpha: float, grad_pre, grad_b) -> None:
    """grad_pre <- grad_out * act'(y); grad_b <- grad_pre summed over the batch (if it has a size)."""
    if act == IDENTITY:
        grad_pre[...] = grad_out
    elif act == RELU:
        np.multiply(grad_out, y > 0, out=grad_pre)
    elif act == LEAKY_RELU:
        np.multiply(grad_out, np.where(y > 0, 1.0, alpha).astype(y.dtype), out=grad_pre)
    elif act == SIGMOID:
        np.multiply(grad_out, y * (1.0 - y), out=grad_pre)
    elif act == TANH:
        np.multiply(grad_out, 1.0 - y * y, out=grad_pre)
    if grad_b.size:
        grad_pre.sum(axis=0, out=grad_b)


def act_backward_fused(grad_out, y, act, alpha, grad_pre, grad_b):  # noqa: C901 (a loop per activation)
    dtype = y.dtype.type
    zero, one, alpha = dtype(0.0), dtype(1.0), dtype(alpha)
    rows, units = y.shape
    for i in range(rows):
        g, v, out = grad_out[i], y[i], grad_pre[i]
        if act == IDENTITY:
            for j in range(units):
                out[j] = g[j]
        elif act == RELU:
            for j in range(units):
                out[j] = g[j] if v[j] > zero else zero
        elif act == LEAKY_RELU:
            for j in range(units):
                out[j] = g[j] if v[j] > zero else alpha * g[j]
        elif act == SIGMOID:
            for j in range(units):
                out[j] = g[j] * (v[j] * (one - v[j]))
        elif act == TANH:
            for j in range(units):
                out[j] = g[j] * (one - v[j] * v[j])
    if grad_b.size:  # rows added in order, as NumPy's sum over axis 0 adds them
        grad_b[:] = zero
        for i in range(rows):
            for j in range(units):
                grad_b[j] += grad_pre[i, j]


KERNELS = {"bias_act": (bias_act, bias_act_fused), "act_backward": (act_backward, act_backward_fused)}

# The same loop bodies in CUDA C++ for CuPy's ElementwiseKernel (one thread per element; `backend/cuda/kernels.py`
# compiles them), their branches generated from the codes above so that no code is written twice.
CUDA_ACTIVATION = {RELU: "v = v > (T)0 ? v : (T)0;", LEAKY_RELU: "v = v > (T)0 ? v : alpha * v;",
                   SIGMOID: "{ T e = exp(-fabs(v)); v = v >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e); }",
                   TANH: "v = tanh(v);"}
CUDA_DERIVATIVE = {IDENTITY: "d = g;", RELU: "d = y > (T)0 ? g : (T)0;", LEAKY_RELU: "d = y > (T)0 ? g : alpha * g;",
                   SIGMOID: "d = g * (y * ((T)1 - y));", TANH: "d = g * ((T)1 - y * y);"}


def cuda_switch(bodies: dict[int, str]) -> str:
    """`switch (act) { case 1: ...; break; ... }` over activation codes (the variable `act` in the kernel)."""
    return "switch (act) {" + "".join(f" case {code}: {body} break;" for code, body in bodies.items()) + " }"


# name: (input parameters, output parameters, body) of each CUDA kernel (CuPy's ElementwiseKernel notation)
CUDA = {
    "bias_act": ("raw T b, int32 with_bias, int32 act, T alpha, int64 units", "T y",
                 "T v = y; if (with_bias) v += b[i % units]; " + cuda_switch(CUDA_ACTIVATION) + " y = v;"),
    "act_backward": ("T g, T y, int32 act, T alpha", "T out",
                     "T d = g; " + cuda_switch(CUDA_DERIVATIVE) + " out = d;"),
}
