"""Element-wise activation functions and their derivatives, written once.

Layers (`layers.py`), losses and `predict_proba` all use these, so the
numerically delicate parts (sigmoid for large |x|, softmax through the
log-sum-exp shift) exist in exactly one place.
"""

from __future__ import annotations

from .backend import xp


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x| <= 0."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def softmax(logits):
    """Row-wise softmax of `logits` (batch, classes), shifted by the row max."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exps = xp.exp(shifted)
    exps /= exps.sum(axis=1, keepdims=True)
    return exps
