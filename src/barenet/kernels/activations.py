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
    rows, units = y.shape
    with_bias = b.size > 0
    for i in range(rows):
        for j in range(units):
            v = y[i, j] + b[j] if with_bias else y[i, j]
            if act == RELU:
                v = v if v > 0 else 0.0
            elif act == LEAKY_RELU:
                v = v if v > 0 else alpha * v
            elif act == SIGMOID:
                e = math.exp(-abs(v))
                v = 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)
            elif act == TANH:
                v = math.tanh(v)
            y[i, j] = v


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


def act_backward_fused(grad_out, y, act, alpha, grad_pre, grad_b):
    rows, units = y.shape
    with_bias = grad_b.size > 0
    if with_bias:
        grad_b[:] = 0.0
    for i in range(rows):
        for j in range(units):
            g = grad_out[i, j]
            v = y[i, j]
            if act == RELU:
                g = g if v > 0 else 0.0
            elif act == LEAKY_RELU:
                g = g if v > 0 else alpha * g
            elif act == SIGMOID:
                g = g * (v * (1.0 - v))
            elif act == TANH:
                g = g * (1.0 - v * v)
            grad_pre[i, j] = g
            if with_bias:
                grad_b[j] += g


KERNELS = {"bias_act": (bias_act, bias_act_fused), "act_backward": (act_backward, act_backward_fused)}
