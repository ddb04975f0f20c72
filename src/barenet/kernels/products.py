"""The weight gradient of one sample: an outer product (rank 1).

For per-sample SGD (batch 1), dL/dW = x.T @ grad_pre is a GEMM with an inner
dimension of 1, which BLAS does badly (measured: 168 us for 784x128, against
48 us for NumPy's broadcast multiply and 6 us for the fused loop):

    out[i, j] = x[0, i] * grad[0, j]        x (1, in), grad (1, out), out (in, out)
"""

from __future__ import annotations

import numpy as np


def outer(x, grad, out) -> None:
    np.multiply(x.reshape(-1, 1), grad, out=out)


def outer_fused(x, grad, out):
    inputs, outputs = out.shape
    for i in range(inputs):
        xi = x[0, i]
        for j in range(outputs):
            out[i, j] = xi * grad[0, j]


KERNELS = {"outer": (outer, outer_fused)}

# CUDA C++, one thread per output element (`backend/cuda/kernels.py`)
CUDA = {"outer": ("raw T x, raw T g, int64 outputs", "T out", "out = x[i / outputs] * g[i % outputs];")}
