"""Connected components of a binary image, in NumPy: label propagation with pointer jumping.

Each foreground pixel starts with its own label (its flat index + 1). A pass gives every
pixel the smallest label among its 8 neighbours, then jumps each label to that pixel's
own label (a label names a pixel of the same component, whose label is no larger), so
chains shorten geometrically. Passes repeat until nothing changes: a component ends up
labelled by its first pixel in row-major order.
"""

from __future__ import annotations

import numpy as np


def label(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (H, W) int64: 0 for background, one positive label per 8-connected component."""
    height, width = mask.shape
    none = height * width + 1  # larger than any label
    labels = np.where(mask, np.arange(1, height * width + 1).reshape(height, width), 0)
    while True:
        padded = np.pad(np.where(mask, labels, none), 1, constant_values=none)
        smallest = np.min([padded[dy: dy + height, dx: dx + width] for dy in range(3) for dx in range(3)], axis=0)
        smallest = np.where(mask, smallest, 0)
        jumped = np.where(mask, smallest.reshape(-1)[np.maximum(smallest, 1).reshape(-1) - 1].reshape(height, width),
                          0)
        jumped = np.minimum(jumped, smallest)
        if np.array_equal(jumped, labels):
            return labels
        labels = jumped


def measure(labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of each component of `labels` (H, W): (ids (K,), summed `weights` (H, W) (K,), centres (K, 2) as (row, col))."""
    foreground = labels > 0
    ids, inverse, counts = np.unique(labels[foreground], return_inverse=True, return_counts=True)
    rows, cols = np.nonzero(foreground)
    sums = np.stack([np.bincount(inverse, weights=rows, minlength=len(ids)),
                     np.bincount(inverse, weights=cols, minlength=len(ids))], axis=1)
    centres = sums / np.maximum(counts, 1)[:, None]
    return ids, np.bincount(inverse, weights=weights[foreground], minlength=len(ids)), centres
