"""The products of one sample (per-sample SGD, batch 1): a row times a matrix, and an outer product.

At batch 1 a Dense layer's products are not matrix products but a vector-matrix product
and a rank-1 outer product, and both are bound by reading or writing the weight matrix:

    forward   out[0, j] = sum over i of x[0, i] * W[i, j]      x (1, in), W (in, out), out (1, out)
    gradient  out[i, j] = x[0, i] * grad[0, j]                 x (1, in), grad (1, out), out (in, out)

`vector_matrix` skips the rows of W whose input is exactly 0, which adds nothing to any
output: 80% of an MNIST image's pixels and about half of a ReLU layer's outputs are 0, so
it reads a fifth to a half of W where BLAS's GEMV reads all of it (measured for 784x800 at
20% non-zero inputs: 71 us against 172). With every input non-zero it is as fast as GEMV.
Its sums run over i in order, so they differ from BLAS's at rounding level only.

`outer` is the weight gradient; BLAS does a GEMM with an inner dimension of 1 badly
(168 us for 784x128, against 48 us for NumPy's broadcast multiply and 6 us for the fused
loop). Per-sample SGD does not even form it: `updates.sgd_outer` updates the weights from
x and grad directly.
"""

from __future__ import annotations

import numpy as np


def vector_matrix(x, W, out) -> None:
    np.matmul(x, W, out=out)


def vector_matrix_fused(x, W, out):
    inputs, outputs = W.shape
    zero = out.dtype.type(0.0)
    row = out[0]
    for j in range(outputs):
        row[j] = zero
    for i in range(inputs):
        xi = x[0, i]
        if xi != zero:  # an input of 0 adds nothing: its row of W is not read
            weights = W[i]
            for j in range(outputs):
                row[j] += xi * weights[j]


def outer(x, grad, out) -> None:
    np.multiply(x.reshape(-1, 1), grad, out=out)


def outer_fused(x, grad, out):
    inputs, outputs = out.shape
    for i in range(inputs):
        xi = x[0, i]
        for j in range(outputs):
            out[i, j] = xi * grad[0, j]


KERNELS = {"vector_matrix": (vector_matrix, vector_matrix_fused), "outer": (outer, outer_fused)}

# CUDA C++, one thread per output element (`backend/cuda/kernels.py`)
CUDA = {
    "vector_matrix": ("raw T x, raw T w, int64 inputs, int64 outputs", "T out", """
        T total = 0;
        for (ptrdiff_t k = 0; k < inputs; k++) { const T xk = x[k]; if (xk != (T)0) total += xk * w[k * outputs + i]; }
        out = total;
    """),
    "outer": ("raw T x, raw T g, int64 outputs", "T out", "out = x[i / outputs] * g[i % outputs];"),
}
