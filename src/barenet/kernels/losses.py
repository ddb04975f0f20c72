"""Softmax cross-entropy of logits against class ids: the loss and its gradient in one pass.

For a row of logits z and its class y (Nielsen's "delta" of the softmax output layer):

    loss_i = log(sum_k exp(z_k - m)) - (z_y - m)      m = max_k z_k, so exp never overflows
    grad   = (softmax(z) - onehot(y)) / divisor       divisor: batch size ("mean") or 1 ("sum")

Shapes: logits, grad (batch, classes); targets (batch,) integer class ids.
Returns the summed loss of the batch (a float); `grad` is written in place.
"""

from __future__ import annotations

import math

import numpy as np


def softmax_xent(logits, targets, divisor: float, grad) -> float:
    maxes = logits.max(axis=1, keepdims=True)
    np.subtract(logits, maxes, out=grad)
    np.exp(grad, out=grad)
    sums = grad.sum(axis=1, keepdims=True)
    rows = np.arange(len(targets))
    total = float(np.log(sums).sum()) - float((logits[rows, targets] - maxes[:, 0]).sum())
    grad /= sums
    grad[rows, targets] -= 1.0
    if divisor != 1.0:
        grad *= grad.dtype.type(1.0 / divisor)
    return total


def softmax_xent_fused(logits, targets, divisor, grad):
    rows, classes = logits.shape
    total = 0.0
    inverse = 1.0 / divisor
    for i in range(rows):
        top = logits[i, 0]
        for k in range(1, classes):
            top = max(top, logits[i, k])
        norm = 0.0
        for k in range(classes):
            e = math.exp(logits[i, k] - top)
            grad[i, k] = e
            norm += e
        total += math.log(norm) - (logits[i, targets[i]] - top)
        scale = inverse / norm
        for k in range(classes):
            grad[i, k] = grad[i, k] * scale
        grad[i, targets[i]] -= inverse
    return total


KERNELS = {"softmax_xent": (softmax_xent, softmax_xent_fused)}

# CUDA C++ (one thread per row; `backend/cuda/kernels.py`): the fused loop's body; each row's loss is
# written to `row_loss` (float64) and summed on the device.
CUDA = {"softmax_xent": ("raw T z, raw I t, int32 classes, T inverse", "raw T grad, float64 row_loss", """
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
""")}
