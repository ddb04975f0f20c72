"""Inverted dropout: zero a unit with probability `rate`, scale the survivors by 1 / (1 - rate).

    forward    keep = uniform >= rate;   out = x * keep * scale      scale = 1 / (1 - rate)
    backward   grad_in = grad_out * keep * scale

The uniform draws come from the model's NumPy generator (the same stream on
every path). Shapes: x, uniform, keep, out, grad_out, grad_in all (batch, units);
keep is boolean.
"""

from __future__ import annotations

import numpy as np


def dropout_forward(x, uniform, rate: float, scale: float, keep, out) -> None:
    np.greater_equal(uniform, rate, out=keep)
    np.multiply(x, keep, out=out)
    out *= out.dtype.type(scale)


def dropout_forward_fused(x, uniform, rate, scale, keep, out):
    dtype = x.dtype.type
    zero, scale, rate = dtype(0.0), dtype(scale), uniform.dtype.type(rate)
    rows, units = x.shape
    for i in range(rows):
        for j in range(units):
            kept = uniform[i, j] >= rate
            keep[i, j] = kept
            out[i, j] = x[i, j] * scale if kept else zero


def dropout_backward(grad_out, keep, scale: float, grad_in) -> None:
    np.multiply(grad_out, keep, out=grad_in)
    grad_in *= grad_in.dtype.type(scale)


def dropout_backward_fused(grad_out, keep, scale, grad_in):
    dtype = grad_out.dtype.type
    zero, scale = dtype(0.0), dtype(scale)
    rows, units = grad_out.shape
    for i in range(rows):
        for j in range(units):
            grad_in[i, j] = grad_out[i, j] * scale if keep[i, j] else zero


KERNELS = {"dropout_forward": (dropout_forward, dropout_forward_fused),
           "dropout_backward": (dropout_backward, dropout_backward_fused)}

# CUDA C++, one thread per element (`backend/cuda/kernels.py`)
CUDA = {"dropout_forward": ("T x, U u, U rate, T scale", "bool keep, T out",
                            "keep = u >= rate; out = keep ? x * scale : (T)0;"),
        "dropout_backward": ("T g, bool keep, T scale", "T out", "out = keep ? g * scale : (T)0;")}
