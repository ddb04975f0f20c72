"""The numerically delicate functions, written once.

Layers, losses and `predict_proba` all call these, so sigmoid for large |x|,
softmax through the max shift and one-hot encoding exist in exactly one place.
Their derivatives live with the layers and losses that need them (`layers.Sigmoid`,
`layers.Softmax`, `losses.SoftmaxCrossEntropy`), next to the forward they invert.
Each computes with the array module `xp` its caller passes (NumPy, the default, or CuPy: a layer or loss
passes its backend's `xp`), never by asking the array.
"""

from __future__ import annotations

from types import ModuleType

import numpy


def sigmoid(x, xp: ModuleType = numpy):
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x| <= 0. Same shape and dtype as x."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def softmax(logits, xp: ModuleType = numpy):
    """Row-wise softmax of `logits` (batch, classes), shifted by the row max so exp never overflows."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exps = xp.exp(shifted)
    exps /= exps.sum(axis=1, keepdims=True)
    return exps


def one_hot(labels, classes: int, dtype, xp: ModuleType = numpy):
    """Class ids (batch,) -> one-hot rows (batch, classes) of `dtype`. No checks: callers validate."""
    dense = xp.zeros((labels.shape[0], classes), dtype=dtype)
    dense[xp.arange(labels.shape[0]), labels] = 1
    return dense
