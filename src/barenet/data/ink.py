"""Ink from paper: which way round a photo is, how the paper was lit, and which pixels are ink.

A photo of a digit is paper under uneven light (a gradient, a shadow, grey or grainy
paper) with a few strokes on it. The stages, each a function of whole arrays:

1. `dark_ink`: decide the polarity from the strokes, not from the border: the side
   (darker or lighter than the local paper) that holds the larger far-out mass.
2. `paper_brightness`: the light falling on the paper, estimated on a coarse grid of
   blocks: a high percentile per block, a small grey closing that fills in thin strokes,
   then a median over a quarter of the image, which keeps the edges of shadows (a large
   closing would lift the dark side of a soft shadow's edge), scaled back up bilinearly.
3. `ink_strength`: divide the light out (ink = 1 - pixel / paper), so a stroke in the
   shadow is as dark as one in the light.
4. `clean_ink`: Otsu's threshold splits ink from paper; the strokes are stretched so
   their core is 1 and faint paper texture is 0, keeping the anti-aliased edges.
"""

from __future__ import annotations

import math

import numpy as np

from . import components

GRID_CELLS = 64        # blocks along the longer side for the paper estimate
CLOSING_RADIUS = 2     # blocks: a closing fills strokes up to 2 * 2 + 1 blocks wide and thins wider ones...
MEDIAN_RADIUS = 8      # ... so that a median over 17 x 17 blocks (26% of the side) sees mostly paper
POLARITY_CELLS = 32    # blocks along the longer side for the local median that decides the polarity
ANALYSIS_SIDE = 512    # longer side the paper is estimated at
PAPER_PERCENTILE = 75  # a block's paper level: ink is dark, so the bright end is paper
COMPONENT_SIDE = 192   # longer side at which the strokes are split into connected pieces


def dark_ink(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """(H, W) gray levels 0..255 -> (the same with dark ink on light paper, whether it was inverted).

    The paper is estimated as a local median; ink is what lies far from it (beyond three
    robust standard deviations), and the side with more such mass is the ink's side.
    """
    blocks, cell = _block_stat(gray, 50, POLARITY_CELLS)
    paper = _upsample(_local(blocks, np.median, radius=POLARITY_CELLS // 8), cell, gray.shape)
    deviation = gray - paper
    spread = 1.4826 * float(np.median(np.abs(deviation))) + 1.0
    darker = np.clip(-deviation - 3 * spread, 0, None).sum()
    lighter = np.clip(deviation - 3 * spread, 0, None).sum()
    if lighter > darker:
        return 255.0 - gray, True
    return gray, False


def paper_brightness(gray: np.ndarray) -> np.ndarray:
    """(H, W) dark-on-light gray levels -> (H, W) float32: the paper's level under the light at each pixel."""
    blocks, cell = _block_stat(gray, PAPER_PERCENTILE, GRID_CELLS)
    closed = _separable(_separable(blocks, np.max), np.min)
    return _upsample(_local(closed, np.median, MEDIAN_RADIUS), cell, gray.shape)


def ink_strength(gray: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 0 where the pixel is as bright as its paper, 1 for black ink."""
    return np.clip(1.0 - gray / np.maximum(paper, 1.0), 0.0, 1.0).astype(np.float32)


def clean_ink(ink: np.ndarray) -> np.ndarray:
    """(H, W) ink strength -> (H, W) float32 strokes in [0, 1], paper 0, each stroke's core 1.

    Otsu's threshold finds the strokes; the 90th percentile of their strength is the core. A pixel at half
    the core is on the stroke's edge (0.5): MNIST's strokes were binary before anti-aliasing.
    """
    threshold = otsu(ink)
    strokes = ink[ink > threshold]
    core = float(np.percentile(strokes, 90)) if strokes.size else max(threshold, 1e-3)
    return np.clip((ink / core - 0.35) / 0.3, 0.0, 1.0).astype(np.float32)


def keep_digit(strokes: np.ndarray) -> np.ndarray:
    """(H, W) strokes -> the same with specks and stray marks (grain, shadow edges) set to 0.

    The strokes are split into 8-connected pieces on a grid of COMPONENT_SIDE cells. The
    heaviest piece is the digit's; a piece joins it when it is heavy itself (a third of the
    heaviest), or is not a mere speck (a fiftieth) and has its centre within a third of the
    digit's size of the digit so far; joining repeats, so a broken thin stroke stays whole.
    """
    cells, cell = _block_reduce(strokes, COMPONENT_SIDE)
    labels = components.label(cells.max(axis=-1) > 0.5)
    ids, mass, centres = components.measure(labels, cells.mean(axis=-1))
    if len(ids) < 2:
        return strokes
    kept = mass >= mass.max() / 3
    candidates = mass >= mass.max() / 50
    while True:
        top, bottom, left, right = _box(np.isin(labels, ids[kept]), grow=1 / 3)
        near = (centres[:, 0] >= top) & (centres[:, 0] <= bottom) & (centres[:, 1] >= left) & (centres[:, 1] <= right)
        grown = kept | (candidates & near)
        if (grown == kept).all():
            break
        kept = grown
    keep = _local(np.isin(labels, ids[kept]).astype(np.float32), np.max, radius=1)  # and the soft edges
    full = np.repeat(np.repeat(keep, cell, axis=0), cell, axis=1)[: strokes.shape[0], : strokes.shape[1]]
    return strokes * full


def morph(image: np.ndarray, steps: int, reduce) -> np.ndarray:
    """Erosion (`reduce` np.min) or dilation (np.max) of (H, W) by `steps` pixels, octagon-shaped.

    Steps alternate a 3x3 square and a 3x3 cross, the closest to a disc two 3x3 shapes give
    (a square alone turns holes into squares).
    """
    for step in range(steps):
        padded = np.pad(image, 1, mode="edge")
        height, width = image.shape
        shifts = [(dy, dx) for dy in range(3) for dx in range(3) if step % 2 == 0 or dy == 1 or dx == 1]
        image = reduce([padded[dy: dy + height, dx: dx + width] for dy, dx in shifts], axis=0)
    return image


def _box(mask: np.ndarray, grow: float) -> tuple[float, float, float, float]:
    """(top, bottom, left, right) of the True pixels of (h, w) `mask`, grown by `grow` of the longer side."""
    rows, cols = np.nonzero(mask)
    margin = grow * max(rows.max() - rows.min(), cols.max() - cols.min(), 1)
    return rows.min() - margin, rows.max() + margin, cols.min() - margin, cols.max() + margin


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


def _block_reduce(image: np.ndarray, cells: int) -> tuple[np.ndarray, int]:
    """(H, W) -> ((gh, gw, b * b) the pixels of each b x b block, b): `cells` blocks along the longer side.

    The image is edge-padded to whole blocks.
    """
    block = max(1, math.ceil(max(image.shape) / cells))
    gh, gw = math.ceil(image.shape[0] / block), math.ceil(image.shape[1] / block)
    padded = np.pad(image, ((0, gh * block - image.shape[0]), (0, gw * block - image.shape[1])), mode="edge")
    return padded.reshape(gh, block, gw, block).transpose(0, 2, 1, 3).reshape(gh, gw, block * block), block


def _block_stat(gray: np.ndarray, percentile: float, cells: int) -> tuple[np.ndarray, int]:
    """(H, W) -> ((gh, gw) the percentile of each block, a block's side in pixels of `gray`).

    The grid has `cells` blocks along the longer side; the image is first box-reduced
    to ANALYSIS_SIDE, and edge-padded to whole blocks.
    """
    from PIL import Image

    factor = math.ceil(max(gray.shape) / ANALYSIS_SIDE)
    small = gray
    if factor > 1:
        small = np.asarray(Image.fromarray(gray.astype(np.float32)).reduce(factor))
    pixels, block = _block_reduce(small, cells)
    return np.percentile(pixels, percentile, axis=-1).astype(np.float32), block * factor


def _local(grid: np.ndarray, reduce, radius: int = CLOSING_RADIUS) -> np.ndarray:
    """(gh, gw) -> (gh, gw): `reduce` (np.max, np.min, np.median) over each cell's (2r+1)^2 neighbourhood."""
    padded = np.pad(grid, radius, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * radius + 1, 2 * radius + 1))
    return reduce(windows, axis=(-2, -1)).astype(np.float32)


def _separable(grid: np.ndarray, reduce, radius: int = CLOSING_RADIUS) -> np.ndarray:
    """`_local` for a separable `reduce` (np.max, np.min): along rows, then along columns."""
    padded = np.pad(grid, radius, mode="edge")
    rows = reduce(np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1, axis=1), axis=-1)
    return reduce(np.lib.stride_tricks.sliding_window_view(rows, 2 * radius + 1, axis=0), axis=-1)


def _upsample(grid: np.ndarray, block: int, shape: tuple[int, ...]) -> np.ndarray:
    """(gh, gw) values of blocks `block` pixels wide -> (H, W) float32, bilinear between block centres."""
    from PIL import Image

    height, width = shape[:2]
    full = Image.fromarray(grid.astype(np.float32)).resize(
        (grid.shape[1] * block, grid.shape[0] * block), Image.Resampling.BILINEAR)
    return np.asarray(full, dtype=np.float32)[:height, :width]
