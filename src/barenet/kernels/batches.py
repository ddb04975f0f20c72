"""Gathering a training batch: picked rows of uint8 pixels become scaled floats in one pass.

    out[i, :] = x[index[i], :] * factor        x (N, features) uint8; index (batch,); out (batch, features)

The reference gathers (a uint8 copy), casts and multiplies: three passes; the
fused loop reads each picked pixel once and writes its float once.
"""

from __future__ import annotations

import numpy as np


def gather_scaled(x, index, factor: float, out) -> None:
    np.multiply(x[index], out.dtype.type(factor), out=out, dtype=out.dtype, casting="unsafe")


def gather_scaled_fused(x, index, factor, out):
    factor = out.dtype.type(factor)
    rows, features = out.shape
    for i in range(rows):
        source = index[i]
        for j in range(features):
            out[i, j] = x[source, j] * factor


KERNELS = {"gather_scaled": (gather_scaled, gather_scaled_fused)}

# CUDA C++, one thread per output element (`backend/cuda/kernels.py`)
CUDA = {"gather_scaled": ("raw X x, raw I index, int64 features, T factor", "T out",
                          "out = (T)x[index[i / features] * features + i % features] * factor;")}
