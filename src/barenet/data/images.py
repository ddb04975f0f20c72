"""Photos and drawings of digits -> 28x28 MNIST-style images.

MNIST digits are white on black, scaled to fit a 20x20 box keeping their aspect
ratio, and placed in a 28x28 image so that their centre of mass is at the centre.
`to_mnist` does the same to any grayscale picture, so a photo of a digit written
on paper looks to the network like the digits it learnt from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BarenetError, DataError, InputError
from ..io.readers import check_regular
from . import ink

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_PIXELS = 50_000_000  # a 50-megapixel photo; PIL's own bomb limit is about 89 million
WORKING_SIDE = 2048      # longer side a photo is reduced to before preprocessing
MIN_CONTRAST = 0.1       # ink at least 10% darker (or lighter) than its paper, or there is no digit
MNIST_CENTRE = 14.0      # MNIST's centre of mass, row and column (the mean over its test digits: 13.99, 14.00)
WIDTH_BOX = 80           # side the cropped digit is scaled to while its stroke width is measured and evened
MNIST_WIDTH = 10.0       # MNIST's median stroke width in that box (`stroke_width` of 1000 training digits)
WIDTH_RANGE = (6.5, 14.0)  # MNIST's 5th and 95th percentiles: widths between are left as they are
MAX_THINNING = 4         # pixels of the box per side: more erodes a marker's closed loops into squares
MAX_THICKENING = 2       # pixels per side: grain mistaken for thin strokes must not swell a digit into a blob


def load_grayscale(path) -> np.ndarray:
    """An image file as a float32 (H, W) array of 0-255 gray levels (16-bit images scaled, not clipped).

    The pixel count is checked from the header before any pixel is decoded (MAX_PIXELS).
    """
    path = Path(path)
    check_regular(path, "image file")
    return decode_grayscale(path, str(path))


PREDICT_FIX = "give PNG or JPEG files, or a batch as .npy, .csv or IDX"


def decode_grayscale(source, name: str, fix: str = PREDICT_FIX) -> np.ndarray:
    """`load_grayscale` of an open binary file or a path; `name` is what error messages call it, `fix` what they
    tell the user to do instead when the bytes are no readable image."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as opened:
                _check_size(opened.size, name)
                opened.load()
                return _gray_levels(opened, name)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{name} is larger than {MAX_PIXELS:,} pixels: resize the image") from None
    except BarenetError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise DataError(f"{name} is not an image barenet can read ({type(exc).__name__}"
                        f"{': ' + reason if reason else ''}): {fix}") from None


def _check_size(size: tuple[int, int], name: str) -> None:
    width, height = size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise InputError(f"{name} is {width}x{height} pixels; barenet reads images of at most {MAX_PIXELS:,} "
                         f"pixels: resize the image")


def _gray_levels(image, name: str) -> np.ndarray:
    """(H, W) float32 gray levels 0..255 from any PIL mode: transparency is paper, 16-bit is divided by 257."""
    from PIL import Image

    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):  # 16-bit PNG/TIFF gray (PIL reads some as "I")
        levels = np.asarray(image, dtype=np.float64)
        if levels.min() < 0 or levels.max() > 65535:
            raise InputError(f"{name} has 32-bit gray levels outside 0..65535: save it as an 8- or 16-bit image")
        return (levels / 257.0).astype(np.float32)
    if image.mode == "F":
        levels = np.asarray(image, dtype=np.float32)
        if not np.isfinite(levels).all() or levels.min() < 0 or levels.max() > 255:
            raise InputError(f"{name} has floating-point gray levels outside 0..255: save it as an 8-bit image")
        return levels
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)  # transparent means paper
    gray = image.convert("L")
    factor = math.ceil(max(gray.size) / WORKING_SIDE)
    if factor > 1:  # a big photo: shrink it (a box filter) before the float copies; the digit ends up 20x20
        gray = gray.reduce(factor)
    return np.asarray(gray, dtype=np.float32)


@dataclass(frozen=True)
class Stages:
    """Every stage of `photo_stages`, as (H, W) float32 arrays, ending in the (28, 28) uint8 digit."""

    gray: np.ndarray          # the input, 0..255
    paper: np.ndarray         # the paper's estimated brightness, 0..255 (dark-on-light orientation)
    ink: np.ndarray           # ink strength after dividing the light out, 0..1
    strokes: np.ndarray       # thresholded and stretched strokes without specks, 0..1
    box: np.ndarray           # the strokes cropped to the digit, longer side WIDTH_BOX, widths evened, 0..1
    digit: np.ndarray         # (28, 28) uint8, white on black
    inverted: bool            # the input was light ink on dark paper


def to_mnist(gray: np.ndarray, source: str = "image", method: str = "photo") -> np.ndarray:
    """MNIST-style preprocessing of a grayscale (H, W) array -> uint8 (28, 28), white digit on black.

    method "photo" (the default) removes uneven light and paper first (`photo_stages`);
    "simple" is barenet 0.1's: the border's median is the paper, everything else is ink.
    """
    if method == "simple":
        return simple_to_mnist(gray, source)
    return photo_stages(gray, source).digit


def photo_stages(gray: np.ndarray, source: str = "image") -> Stages:
    """The photo pipeline, stage by stage: polarity, paper brightness, ink strength, strokes, digit."""
    pixels = np.asarray(gray, dtype=np.float32)
    flat = float(pixels.max() - pixels.min()) < MIN_CONTRAST * 255.0  # all black reads as "ink everywhere"
    oriented, inverted = ink.dark_ink(pixels)
    paper = ink.paper_brightness(oriented)
    strength = ink.ink_strength(oriented, paper)
    if flat or strength.max() < MIN_CONTRAST:
        raise InputError(f"{source} has no visible digit (no ink darker or lighter than the background)")
    strokes = ink.keep_digit(ink.clean_ink(strength))
    box = crop_to_ink(even_width(crop_to_ink(strokes)))
    return Stages(pixels, paper, strength, strokes, box, _centre(_fit_20(box * 255.0)), inverted)


def crop_to_ink(strokes: np.ndarray) -> np.ndarray:
    """(H, W) strokes in [0, 1] -> the smallest rectangle holding every pixel above 0.2 (MNIST's crop)."""
    rows, cols = np.nonzero(strokes > 0.2)
    return strokes[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]


def even_width(crop: np.ndarray) -> np.ndarray:
    """(h, w) strokes in [0, 1] -> the same scaled to a WIDTH_BOX box, strokes thinned or thickened
    towards MNIST's median width when they are thinner or thicker than nearly all of MNIST's (a fine
    pen, a marker), by at most a few pixels a side. Padded first, so thickened strokes are not cut."""
    box = scale_to(crop, WIDTH_BOX)
    width = stroke_width(box)
    steps = min(round(abs(width - MNIST_WIDTH) / 2), MAX_THINNING if width > MNIST_WIDTH else MAX_THICKENING)
    if WIDTH_RANGE[0] <= width <= WIDTH_RANGE[1] or steps == 0:
        return box
    return ink.morph(np.pad(box, steps), steps, np.min if width > MNIST_WIDTH else np.max)


def stroke_width(strokes: np.ndarray) -> float:
    """Mean stroke width in pixels of (h, w) strokes in [0, 1]: twice the area over the outline's length.

    The outline is counted in pixel edges, which overstate a line's length by 4/pi on average over angles.
    """
    mask = np.pad(strokes > 0.5, 1)
    edges = int(np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1]))
    return 2.0 * int(np.count_nonzero(mask)) / max(edges, 1) * 4.0 / math.pi


def simple_to_mnist(gray: np.ndarray, source: str = "image") -> np.ndarray:
    """barenet 0.1's preprocessing (kept for comparison): (H, W) gray levels -> uint8 (28, 28).

    The median of the border is the paper; the paper is inverted when light; ink is what differs from it.
    """
    pixels = np.asarray(gray, dtype=np.float32)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if np.median(border) > 127:  # dark ink on light paper: invert
        pixels, border = 255.0 - pixels, 255.0 - border
    strength = np.clip(pixels - np.median(border), 0, None)
    if strength.max() < 16:
        raise InputError(f"{source} has no visible digit (no ink darker or lighter than the background)")
    strength *= 255.0 / strength.max()
    rows, cols = np.nonzero(strength > 0.2 * 255)
    crop = strength[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    return _centre(_fit_20(crop), centre=13.5)  # half a pixel off MNIST's centre, as 0.1 had it


def _fit_20(crop: np.ndarray) -> np.ndarray:
    """Scale so the longer side is 20 pixels, keeping the aspect ratio."""
    from PIL import Image

    h, w = crop.shape
    factor = 20.0 / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    resized = Image.fromarray(crop.astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.float32)


def scale_to(strokes: np.ndarray, side: int) -> np.ndarray:
    """(h, w) values in [0, 1] scaled so the longer side is `side` (aspect kept) -> float32 in [0, 1]."""
    from PIL import Image

    h, w = strokes.shape
    factor = side / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    image = Image.fromarray(strokes.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)


def _centre(digit: np.ndarray, centre: float = MNIST_CENTRE) -> np.ndarray:
    """Paste into 28x28 with the centre of mass at (centre, centre), as MNIST did (whole-pixel shifts)."""
    h, w = digit.shape
    total = digit.sum()
    cy = (digit.sum(axis=1) @ np.arange(h)) / total
    cx = (digit.sum(axis=0) @ np.arange(w)) / total
    top = int(np.clip(round(centre - cy), 0, 28 - h))
    left = int(np.clip(round(centre - cx), 0, 28 - w))
    canvas = np.zeros((28, 28), dtype=np.float32)
    canvas[top: top + h, left: left + w] = digit
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def save_png(image: np.ndarray, path) -> None:
    """Write a (H, W) uint8 image as PNG, atomically."""
    from PIL import Image

    from ..io.files import atomic_write

    atomic_write(path, lambda temp: Image.fromarray(image).save(temp, format="PNG"))


STAGE_NAMES = ("input", "paper light", "ink", "strokes", "digit box", "28x28")
PANEL = 160  # side of each stage's square in the strip, pixels


def stage_strip(stages: Stages) -> np.ndarray:
    """Every stage side by side, each scaled into a PANEL square and named under it -> (H, W) uint8."""
    from PIL import Image, ImageDraw

    pictures = (stages.gray, stages.paper, stages.ink * 255.0, stages.strokes * 255.0, stages.box * 255.0,
                stages.digit)
    strip = Image.new("L", (len(pictures) * (PANEL + 8) + 8, PANEL + 28), 96)
    draw = ImageDraw.Draw(strip)
    for k, (picture, name) in enumerate(zip(pictures, STAGE_NAMES)):
        panel = _panel(np.clip(np.rint(picture), 0, 255).astype(np.uint8))
        left = 8 + k * (PANEL + 8)
        strip.paste(panel, (left + (PANEL - panel.width) // 2, 8 + (PANEL - panel.height) // 2))
        draw.text((left, PANEL + 12), name, fill=255)
    return np.asarray(strip)


def _panel(picture: np.ndarray):
    """A (h, w) uint8 picture scaled to fit PANEL x PANEL: nearest when enlarged (pixels stay visible)."""
    from PIL import Image

    image = Image.fromarray(picture)
    factor = PANEL / max(image.size)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    resample = Image.Resampling.NEAREST if factor > 1 else Image.Resampling.BOX
    return image.resize(size, resample)
