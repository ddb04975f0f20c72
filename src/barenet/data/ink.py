"""Ink from paper: which way round a photo is, how the paper was lit, and which pixels are ink.

A photo of a digit is paper under uneven light (a gradient, a shadow, grey or grainy
paper) with a few strokes on it. The stages, each a function of whole arrays:

1. `dark_ink`: decide the polarity from the strokes, not from the border: the side
   (darker or lighter than the local paper) that holds the larger far-out mass.
2. `paper_brightness`: the light falling on the paper, estimated on a coarse grid of
   blocks (a high percentile per block, then a grey closing that fills in strokes
   thinner than a quarter of the image) and scaled back up bilinearly.
3. `ink_strength`: divide the light out (ink = 1 - pixel / paper), so a stroke in the
   shadow is as dark as one in the light.
4. `clean_ink`: Otsu's threshold splits ink from paper; the strokes are stretched so
   their core is 1 and faint paper texture is 0, keeping the anti-aliased edges.
"""

from __future__ import annotations

import math

import numpy as np

GRID_CELLS = 32        # blocks along the longer side for the paper estimate
CLOSING_RADIUS = 4     # blocks: strokes up to 2 * 4 + 1 blocks wide (28% of the side) are filled in
ANALYSIS_SIDE = 512    # longer side the paper is estimated at
PAPER_PERCENTILE = 90  # a block's paper level: ink is dark, so the bright end is paper


def dark_ink(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """(H, W) gray levels 0..255 -> (the same with dark ink on light paper, whether it was inverted).

    The paper is estimated as a local median; ink is what lies far from it (beyond three
    robust standard deviations), and the side with more such mass is the ink's side.
    """
    blocks, cell = _block_stat(gray, 50)
    paper = _upsample(_local(blocks, np.median), cell, gray.shape)
    deviation = gray - paper
    spread = 1.4826 * float(np.median(np.abs(deviation))) + 1.0
    darker = np.clip(-deviation - 3 * spread, 0, None).sum()
    lighter = np.clip(deviation - 3 * spread, 0, None).sum()
    if lighter > darker:
        return 255.0 - gray, True
    return gray, False


def paper_brightness(gray: np.ndarray) -> np.ndarray:
    """(H, W) dark-on-light gray levels -> (H, W) float32: the paper's level under the light at each pixel."""
    blocks, cell = _block_stat(gray, PAPER_PERCENTILE)
    closed = _local(_local(blocks, np.max), np.min)
    return _upsample(closed, cell, gray.shape)


def ink_strength(gray: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 0 where the pixel is as bright as its paper, 1 for black ink."""
    return np.clip(1.0 - gray / np.maximum(paper, 1.0), 0.0, 1.0).astype(np.float32)


def clean_ink(ink: np.ndarray) -> np.ndarray:
    """(H, W) ink strength -> (H, W) float32 strokes in [0, 1], paper 0, each stroke's core 1.

    Values below half of Otsu's threshold are paper; the median stroke value maps to 1.
    """
    threshold = otsu(ink)
    strokes = ink[ink > threshold]
    core = float(np.median(strokes)) if strokes.size else threshold
    low = threshold / 2
    return np.clip((ink - low) / max(core - low, 1e-3), 0.0, 1.0).astype(np.float32)


def otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of `values` in [0, 1]: the cut that maximises the between-class variance."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts, dtype=np.float64)
    mass = np.cumsum(counts * centres)
    total, total_mass = weight[-1], mass[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mass * weight - total * mass) ** 2 / (weight * (total - weight))
    between[~np.isfinite(between)] = 0.0
    return float(edges[int(np.argmax(between)) + 1])


def _block_stat(gray: np.ndarray, percentile: float) -> tuple[np.ndarray, int]:
    """(H, W) -> ((gh, gw) the percentile of each block, a block's side in pixels of `gray`).

    The grid has GRID_CELLS blocks along the longer side; the image is first box-reduced
    to ANALYSIS_SIDE, and edge-padded to whole blocks.
    """
    from PIL import Image

    factor = math.ceil(max(gray.shape) / ANALYSIS_SIDE)
    small = gray
    if factor > 1:
        small = np.asarray(Image.fromarray(gray.astype(np.float32), mode="F").reduce(factor))
    block = max(1, math.ceil(max(small.shape) / GRID_CELLS))
    gh, gw = math.ceil(small.shape[0] / block), math.ceil(small.shape[1] / block)
    padded = np.pad(small, ((0, gh * block - small.shape[0]), (0, gw * block - small.shape[1])), mode="edge")
    cells = padded.reshape(gh, block, gw, block).transpose(0, 2, 1, 3).reshape(gh, gw, block * block)
    return np.percentile(cells, percentile, axis=-1).astype(np.float32), block * factor


def _local(grid: np.ndarray, reduce, radius: int = CLOSING_RADIUS) -> np.ndarray:
    """(gh, gw) -> (gh, gw): `reduce` (np.max, np.min, np.median) over each cell's (2r+1)^2 neighbourhood."""
    padded = np.pad(grid, radius, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * radius + 1, 2 * radius + 1))
    return reduce(windows, axis=(-2, -1)).astype(np.float32)


def _upsample(grid: np.ndarray, block: int, shape: tuple[int, ...]) -> np.ndarray:
    """(gh, gw) values of blocks `block` pixels wide -> (H, W) float32, bilinear between block centres."""
    from PIL import Image

    height, width = shape[:2]
    full = Image.fromarray(grid.astype(np.float32), mode="F").resize(
        (grid.shape[1] * block, grid.shape[0] * block), Image.Resampling.BILINEAR)
    return np.asarray(full, dtype=np.float32)[:height, :width]
