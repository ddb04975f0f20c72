"""Inverted dropout: zero a unit with probability `rate`, scale the survivors by 1 / (1 - rate).

    forward    keep = u >= rate;   out = x * keep * scale      scale = 1 / (1 - rate)
    backward   grad_in = grad_out * keep * scale

The uniform numbers u come from a counter-based generator, drawn inside the kernel where
they are used: element e of the batch (row-major) gets

    c = offset + e                                    (a 64-bit counter)
    h = mix(mix((c >> 32) xor key) xor (c & 0xFFFFFFFF))
    u = (h >> 8) / 2^24                               (24 bits: exact in float32 and float64)

where `mix` is Wellons's "lowbias32" 32-bit hash (two multiplies, three shifts). A Dropout
layer keeps its `key` and its `offset`, which advances by the batch's size every step: the
whole state of its masks is two integers, saved with a checkpoint, and every device (NumPy,
the fused loop, CUDA) draws the same bits for them, with no array of random numbers made on
the host and copied over. Shapes: x, keep, out, grad_out, grad_in all (batch, units); keep is
boolean; key < 2^32 and offset < 2^64 are integers.
"""

from __future__ import annotations

import numpy as np

MASK = 0xFFFFFFFF
MIX = (0x7FEB352D, 0x846CA68B)  # lowbias32's multipliers
UNIT = 2.0 ** -24               # (h >> 8) * UNIT is in [0, 1), a multiple of 2^-24


def uniform(key: int, offset: int, shape: tuple) -> np.ndarray:
    """The generator's numbers for elements offset .. offset + size - 1, as float64 (exact), in `shape`."""
    counter = np.arange(int(np.prod(shape)), dtype=np.uint64) + np.uint64(offset)
    h = _mix((counter >> np.uint64(32)) ^ np.uint64(key))
    h = _mix((counter & np.uint64(MASK)) ^ h)
    return ((h >> np.uint64(8)).astype(np.float64) * UNIT).reshape(shape)


def _mix(h: np.ndarray) -> np.ndarray:
    """lowbias32 on uint64 arrays holding 32-bit words."""
    h = h ^ (h >> np.uint64(16))
    h = (h * np.uint64(MIX[0])) & np.uint64(MASK)
    h = h ^ (h >> np.uint64(15))
    h = (h * np.uint64(MIX[1])) & np.uint64(MASK)
    return h ^ (h >> np.uint64(16))


def dropout_forward(x, key: int, offset: int, rate: float, scale: float, keep, out) -> None:
    np.greater_equal(uniform(key, offset, x.shape).astype(x.dtype), x.dtype.type(rate), out=keep)
    np.multiply(x, keep, out=out)
    out *= out.dtype.type(scale)


def dropout_forward_fused(x, key, offset, rate, scale, keep, out):
    dtype = x.dtype.type
    zero, scale, rate, unit = dtype(0.0), dtype(scale), dtype(rate), dtype(UNIT)
    mask, low, high = np.uint64(MASK), np.uint64(MIX[0]), np.uint64(MIX[1])
    s8, s15, s16, s32 = np.uint64(8), np.uint64(15), np.uint64(16), np.uint64(32)
    key, start = np.uint64(key), np.uint64(offset)
    rows, units = x.shape
    for i in range(rows):
        row_start = start + np.uint64(i * units)
        for j in range(units):
            counter = row_start + np.uint64(j)
            h = (counter >> s32) ^ key
            h ^= h >> s16
            h = (h * low) & mask
            h ^= h >> s15
            h = (h * high) & mask
            h ^= h >> s16
            h ^= counter & mask
            h ^= h >> s16
            h = (h * low) & mask
            h ^= h >> s15
            h = (h * high) & mask
            h ^= h >> s16
            kept = dtype(h >> s8) * unit >= rate
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

_CUDA_MIX = "h ^= h >> 16; h = (h * {0}ULL) & {2}ULL; h ^= h >> 15; h = (h * {1}ULL) & {2}ULL; h ^= h >> 16;".format(
    *MIX, MASK)

# CUDA C++, one thread per element (`backend/cuda/kernels.py`): the same counter, hash and comparison
CUDA = {"dropout_forward": ("T x, uint64 key, uint64 offset, T rate, T scale", "bool keep, T out", f"""
            const unsigned long long counter = offset + (unsigned long long)i;
            unsigned long long h = (counter >> 32) ^ key;
            {_CUDA_MIX}
            h ^= counter & {MASK}ULL;
            {_CUDA_MIX}
            keep = (T)(h >> 8) * (T){UNIT!r} >= rate;
            out = keep ? x * scale : (T)0;
        """),
        "dropout_backward": ("T g, bool keep, T scale", "T out", "out = keep ? g * scale : (T)0;")}
