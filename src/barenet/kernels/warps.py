"""Warping a batch of images: each output pixel read from a moved point of its source, bilinearly.

    for image b, output pixel (row y, column x):
        sx = m[b,0,0] x + m[b,0,1] y + m[b,0,2] + dx[b,y,x]      where it is read from (columns)
        sy = m[b,1,0] x + m[b,1,1] y + m[b,1,2] + dy[b,y,x]      (rows)
        out[b, y*W + x] = factor * bilinear(x[index[b]] as an H x W image, sx, sy)

    x (N, H*W) uint8 or floats; index (B,) rows of x; m (B, 2, 3) float32, the inverse of the
    affine transform each image undergoes (output -> source); displacement (B, 2, H, W) float32
    elastic offsets (dx, dy) added to the source point, or shape (0, 2, H, W) for none;
    out (B, H*W) floats. Points outside the image read 0 (the black MNIST background).

The reference builds every coordinate array for the batch and gathers the four
neighbours with fancy indexing (about a dozen passes over B*H*W); the fused loop
computes each pixel's source point, reads its four neighbours and writes the
scaled float once.
"""

from __future__ import annotations

import numpy as np


def warp_bilinear(x, index, matrices, displacement, height: int, width: int, factor: float, out) -> None:
    dtype = out.dtype.type
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    m = matrices[:, :, :, None, None]
    sx = (m[:, 0, 0] * xs + m[:, 0, 1] * ys) + m[:, 0, 2]
    sy = (m[:, 1, 0] * xs + m[:, 1, 1] * ys) + m[:, 1, 2]
    if displacement.shape[0]:
        sx, sy = sx + displacement[:, 0], sy + displacement[:, 1]
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = sx - x0, sy - y0
    images = x[index].reshape(len(index), height, width)
    batch = np.arange(len(index))[:, None, None]

    def pixel(row, column):
        inside = (row >= 0) & (row < height) & (column >= 0) & (column < width)
        rows, columns = np.clip(row, 0, height - 1).astype(np.intp), np.clip(column, 0, width - 1).astype(np.intp)
        return np.where(inside, images[batch, rows, columns].astype(np.float32), np.float32(0))

    top = (np.float32(1) - fx) * pixel(y0, x0) + fx * pixel(y0, x0 + 1)
    bottom = (np.float32(1) - fx) * pixel(y0 + 1, x0) + fx * pixel(y0 + 1, x0 + 1)
    warped = (np.float32(1) - fy) * top + fy * bottom
    out[...] = (warped * np.float32(factor)).reshape(len(index), height * width).astype(dtype)


def warp_bilinear_fused(x, index, matrices, displacement, height, width, factor, out):
    elastic = displacement.shape[0] > 0
    scale, one, zero = np.float32(factor), np.float32(1), np.float32(0)
    for b in range(index.shape[0]):
        image = x[index[b]]
        m00, m01, m02 = matrices[b, 0, 0], matrices[b, 0, 1], matrices[b, 0, 2]
        m10, m11, m12 = matrices[b, 1, 0], matrices[b, 1, 1], matrices[b, 1, 2]
        for y in range(height):
            yf = np.float32(y)
            for c in range(width):
                xf = np.float32(c)
                sx = (m00 * xf + m01 * yf) + m02
                sy = (m10 * xf + m11 * yf) + m12
                if elastic:
                    sx += displacement[b, 0, y, c]
                    sy += displacement[b, 1, y, c]
                x0, y0 = np.floor(sx), np.floor(sy)
                fx, fy = sx - x0, sy - y0
                col, row = int(x0), int(y0)
                top_in, bottom_in = 0 <= row < height, 0 <= row + 1 < height
                left_in, right_in = 0 <= col < width, 0 <= col + 1 < width
                start = row * width + col
                p00 = np.float32(image[start]) if top_in and left_in else zero
                p01 = np.float32(image[start + 1]) if top_in and right_in else zero
                p10 = np.float32(image[start + width]) if bottom_in and left_in else zero
                p11 = np.float32(image[start + width + 1]) if bottom_in and right_in else zero
                top = (one - fx) * p00 + fx * p01
                bottom = (one - fx) * p10 + fx * p11
                out[b, y * width + c] = ((one - fy) * top + fy * bottom) * scale


KERNELS = {"warp_bilinear": (warp_bilinear, warp_bilinear_fused)}

# CUDA C++, one thread per output pixel (`backend/cuda/kernels.py`): the fused loop's body, in float32 like it
CUDA = {"warp_bilinear": (
    "raw X x, raw I index, raw float32 m, raw float32 d, int32 elastic, int32 height, int32 width, float32 factor",
    "T out", """
    const int area = height * width;
    const ptrdiff_t b = i / area;
    const int y = (int)(i % area) / width, c = (int)(i % area) % width;
    const ptrdiff_t at = b * 6;
    float sx = (m[at] * (float)c + m[at + 1] * (float)y) + m[at + 2];
    float sy = (m[at + 3] * (float)c + m[at + 4] * (float)y) + m[at + 5];
    if (elastic) { sx += d[(b * 2 * height + y) * width + c]; sy += d[((b * 2 + 1) * height + y) * width + c]; }
    const float x0 = floorf(sx), y0 = floorf(sy);
    const float fx = sx - x0, fy = sy - y0;
    const int col = (int)x0, row = (int)y0;
    const bool top_in = 0 <= row && row < height, bottom_in = 0 <= row + 1 && row + 1 < height;
    const bool left_in = 0 <= col && col < width, right_in = 0 <= col + 1 && col + 1 < width;
    const ptrdiff_t start = (ptrdiff_t)index[b] * area + row * width + col;
    const float p00 = top_in && left_in ? (float)x[start] : 0.0f;
    const float p01 = top_in && right_in ? (float)x[start + 1] : 0.0f;
    const float p10 = bottom_in && left_in ? (float)x[start + width] : 0.0f;
    const float p11 = bottom_in && right_in ? (float)x[start + width + 1] : 0.0f;
    const float top = (1.0f - fx) * p00 + fx * p01, bottom = (1.0f - fx) * p10 + fx * p11;
    out = (T)(((1.0f - fy) * top + fy * bottom) * factor);
""")}
