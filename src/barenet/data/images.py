"""Photos and drawings of digits -> 28x28 MNIST-style images.

MNIST digits are white on black, scaled to fit a 20x20 box keeping their aspect
ratio, and placed in a 28x28 image so that their centre of mass is at the centre.
`to_mnist` does the same to any grayscale picture, so a photo of a digit written
on paper looks to the network like the digits it learnt from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError, InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def load_grayscale(path) -> np.ndarray:
    """An image file as a float32 (H, W) array of 0-255 gray levels."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as opened:
            opened.load()
            image: Image.Image = opened
            if image.mode in ("RGBA", "LA", "P"):
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)  # transparent means paper
            return np.asarray(image.convert("L"), dtype=np.float32)
    except FileNotFoundError:
        raise DataError(f"no file at {path}: check the path") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{path} is not an image barenet can read ({type(exc).__name__}): give PNG or JPEG files, "
                        f"or a batch as .npy, .csv or IDX") from None


def to_mnist(gray: np.ndarray, source: str = "image") -> np.ndarray:
    """MNIST-style preprocessing of a grayscale (H, W) array -> uint8 (28, 28), white digit on black."""
    pixels = np.asarray(gray, dtype=np.float32)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if np.median(border) > 127:  # dark ink on light paper: invert
        pixels, border = 255.0 - pixels, 255.0 - border
    ink = np.clip(pixels - np.median(border), 0, None)
    if ink.max() < 16:
        raise InputError(f"{source} has no visible digit (no ink darker or lighter than the background)")
    ink *= 255.0 / ink.max()
    rows, cols = np.nonzero(ink > 0.2 * 255)
    crop = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    return _centre(_fit_20(crop))


def _fit_20(crop: np.ndarray) -> np.ndarray:
    """Scale so the longer side is 20 pixels, keeping the aspect ratio."""
    from PIL import Image

    h, w = crop.shape
    factor = 20.0 / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    resized = Image.fromarray(crop.astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.float32)


def _centre(digit: np.ndarray) -> np.ndarray:
    """Paste into 28x28 with the centre of mass at (14, 14), as MNIST did."""
    h, w = digit.shape
    total = digit.sum()
    cy = (digit.sum(axis=1) @ np.arange(h)) / total
    cx = (digit.sum(axis=0) @ np.arange(w)) / total
    top = int(np.clip(round(13.5 - cy), 0, 28 - h))
    left = int(np.clip(round(13.5 - cx), 0, 28 - w))
    canvas = np.zeros((28, 28), dtype=np.float32)
    canvas[top: top + h, left: left + w] = digit
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def save_png(image: np.ndarray, path) -> None:
    """Write a (H, W) uint8 image as PNG, atomically."""
    from PIL import Image

    from ..io.files import atomic_write

    atomic_write(path, lambda temp: Image.fromarray(image).save(temp, format="PNG"))
