"""Synthetic photos of handwritten digits: MNIST digits rendered onto paper as a phone would see them.

`make_photos` turns MNIST digits (white on black, 28x28) into image files of 200-600
pixels a side: dark ink on paper, lit and shot the ways people photograph what they
wrote. Each photo shows one condition, drawn with random parameters from its range:

- `gradient`: light falling off across the paper (the far side 35-60% as bright)
- `grey_paper`: grey paper (levels 100-170) and a soft pencil-grey ink
- `textured_paper`: paper grain and blotches (cloth, recycled or kraft paper)
- `shadow`: a soft-edged shadow (45-70% of the light) across the digit
- `thin_pen`: strokes 2-3 times thinner than MNIST's (a fine pen)
- `marker`: strokes 1.5-2 times as thick (a felt marker)
- `low_res`: a digit 10-16 pixels tall, scaled up 12-25 times (a zoomed crop)
- `off_centre`: a small digit near a corner of a large page
- `rotated`: turned by 5-15 degrees either way
- `jpeg`: JPEG compression at quality 8-30

Every photo also gets the everyday variation: paper 205-250, ink 10-70, a slight colour
tint, sensor noise, and the digit's size and place. The same seed gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np

CONDITIONS = ("gradient", "grey_paper", "textured_paper", "shadow", "thin_pen", "marker", "low_res",
              "off_centre", "rotated", "jpeg")


@dataclass(frozen=True)
class Photo:
    """One synthetic photo: the encoded file (PNG or JPEG), its true digit and its condition."""

    data: bytes
    suffix: str
    label: int
    condition: str


@dataclass(frozen=True)
class Scene:
    """How one digit is drawn: sizes in pixels of the final image, levels in 0..255."""

    size: tuple[int, int]            # (width, height)
    paper: float
    ink: float
    digit_height: float              # height of the digit's 20-pixel MNIST box
    centre: tuple[float, float]      # (x, y) as fractions of (width, height)
    angle: float = 0.0               # degrees, anticlockwise
    stroke: int = 0                  # > 0 thicker (a max filter of that size), < 0 thinner
    texture: float = 0.0             # amplitude of the paper's blotches, in levels
    darkest: float = 1.0             # the illumination gradient's darkest factor
    shadow: float = 1.0              # light left in the shadow
    upscale: float = 1.0             # drawn this many times smaller, then scaled up
    quality: int | None = None       # JPEG quality; None: PNG
    noise: float = 2.0               # sensor noise, standard deviation in levels
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)


def make_photos(digits: np.ndarray, labels: np.ndarray, count: int, seed: int = 0) -> list[Photo]:
    """`count` photos of digits picked at random from `digits` (N, 28, 28) uint8 with `labels` (N,).

    Conditions take turns (photo k has CONDITIONS[k % 10]), so each has count / 10 photos.
    """
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(digits), size=count, replace=count > len(digits))
    photos = []
    for k, index in enumerate(picks):
        condition = CONDITIONS[k % len(CONDITIONS)]
        scene = draw_scene(condition, rng)
        data = encode(render(digits[index], scene, rng), scene.quality)
        photos.append(Photo(data, ".png" if scene.quality is None else ".jpg", int(labels[index]), condition))
    return photos


def draw_scene(condition: str, rng: np.random.Generator) -> Scene:
    """The everyday variation, then `condition`'s change, with parameters drawn from their ranges."""
    width, height = (int(side) for side in rng.integers(200, 601, size=2))
    base = Scene(size=(width, height), paper=rng.uniform(205, 250), ink=rng.uniform(10, 70),
                 digit_height=min(width, height) * rng.uniform(0.35, 0.7),
                 centre=(0.5 + rng.uniform(-0.1, 0.1), 0.5 + rng.uniform(-0.1, 0.1)),
                 noise=rng.uniform(1.0, 3.0), tint=(1.0, 1.0 - rng.uniform(0, 0.04), 1.0 - rng.uniform(0, 0.1)))
    return CHANGES[condition](base, rng)


def _grey_paper(scene: Scene, rng: np.random.Generator) -> Scene:
    return replace(scene, paper=rng.uniform(100, 170), ink=rng.uniform(5, 45))


def _textured(scene: Scene, rng: np.random.Generator) -> Scene:
    return replace(scene, paper=rng.uniform(170, 230), texture=rng.uniform(10, 22), noise=rng.uniform(4, 8))


def _thin(scene: Scene, rng: np.random.Generator) -> Scene:
    """MNIST's strokes are about an eighth of the box high; a fine pen's a sixteenth to a thirtieth."""
    width = scene.digit_height / 8
    return replace(scene, stroke=-max(1, round(width * rng.uniform(0.45, 0.65))))


def _marker(scene: Scene, rng: np.random.Generator) -> Scene:
    return replace(scene, stroke=max(3, round(scene.digit_height / 8 * rng.uniform(0.5, 0.9))))


def _low_res(scene: Scene, rng: np.random.Generator) -> Scene:
    return replace(scene, upscale=scene.digit_height / rng.uniform(10, 16))


def _off_centre(scene: Scene, rng: np.random.Generator) -> Scene:
    """A digit a fifth to a third of the page high, its centre in the outer fifth of the page."""
    fraction = rng.uniform(0.2, 0.33)
    height = min(scene.size) * fraction
    margin = 0.72 * height / np.array(scene.size)  # the 28x28 glyph's half side (1.4 / 2 of the box), inside
    corner = rng.integers(0, 2, size=2)
    offset = rng.uniform(0, 0.1, size=2)
    centre = np.where(corner == 0, margin + offset, 1 - margin - offset)
    return replace(scene, digit_height=height, centre=(float(centre[0]), float(centre[1])))


CHANGES = {
    "gradient": lambda scene, rng: replace(scene, darkest=rng.uniform(0.35, 0.6)),
    "grey_paper": _grey_paper,
    "textured_paper": _textured,
    "shadow": lambda scene, rng: replace(scene, shadow=rng.uniform(0.45, 0.7)),
    "thin_pen": _thin,
    "marker": _marker,
    "low_res": _low_res,
    "off_centre": _off_centre,
    "rotated": lambda scene, rng: replace(scene, angle=float(rng.choice([-1, 1]) * rng.uniform(5, 15))),
    "jpeg": lambda scene, rng: replace(scene, quality=int(rng.integers(8, 31))),
}


def render(digit: np.ndarray, scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """A (28, 28) uint8 MNIST digit drawn as `scene` says -> (height, width, 3) uint8 RGB photo."""
    from PIL import Image

    width, height = scene.size
    small = (max(1, round(width / scene.upscale)), max(1, round(height / scene.upscale)))
    drawn = replace(scene, size=small, digit_height=scene.digit_height / scene.upscale,
                    stroke=round(scene.stroke / scene.upscale))
    ink = ink_coverage(digit, drawn)
    light = illumination(drawn, rng)
    paper = paper_levels(drawn, rng)
    gray = light * (paper * (1 - ink) + drawn.ink * ink)
    rgb = gray[..., None] * np.asarray(scene.tint, dtype=np.float32)
    image = np.clip(rgb, 0, 255).astype(np.uint8)
    if scene.upscale > 1:
        resample = Image.Resampling.BICUBIC if rng.random() < 0.5 else Image.Resampling.NEAREST
        image = np.asarray(Image.fromarray(image).resize(scene.size, resample))
    noisy = image + rng.normal(0, scene.noise, size=image.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def ink_coverage(digit: np.ndarray, scene: Scene) -> np.ndarray:
    """(height, width) float32 in [0, 1]: how much of each pixel the ink covers."""
    from PIL import Image, ImageFilter

    scale = scene.digit_height / 20
    side = max(1, round(28 * scale))
    glyph = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    if scene.stroke:
        size = 2 * (abs(scene.stroke) // 2) + 1
        glyph = glyph.filter(ImageFilter.MaxFilter(size) if scene.stroke > 0 else ImageFilter.MinFilter(size))
    if scene.angle:
        glyph = glyph.rotate(scene.angle, resample=Image.Resampling.BICUBIC, expand=True)
    width, height = scene.size
    canvas = Image.new("L", (width, height), 0)
    left = round(scene.centre[0] * width - glyph.width / 2)
    top = round(scene.centre[1] * height - glyph.height / 2)
    canvas.paste(glyph, (left, top))
    return np.asarray(canvas, dtype=np.float32) / 255.0


def illumination(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """(height, width) float32 light factors: a linear gradient times a soft-edged shadow."""
    width, height = scene.size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = np.ones((height, width), dtype=np.float32)
    if scene.darkest < 1:
        direction = rng.uniform(0, 2 * np.pi)
        along = np.cos(direction) * xs / width + np.sin(direction) * ys / height
        along = (along - along.min()) / max(float(np.ptp(along)), 1e-6)
        light *= scene.darkest + (1 - scene.darkest) * along
    if scene.shadow < 1:
        direction = rng.uniform(0, 2 * np.pi)
        x0, y0 = width * rng.uniform(0.35, 0.65), height * rng.uniform(0.35, 0.65)
        distance = np.cos(direction) * (xs - x0) + np.sin(direction) * (ys - y0)
        softness = min(width, height) * rng.uniform(0.02, 0.12)
        inside = 1 / (1 + np.exp(-np.clip(distance / softness, -30, 30)))
        light *= 1 - (1 - scene.shadow) * inside
    return light


def paper_levels(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """(height, width) float32 paper gray levels: flat, or with blotches (smooth noise) and grain."""
    from PIL import Image

    width, height = scene.size
    paper = np.full((height, width), scene.paper, dtype=np.float32)
    if scene.texture:
        coarse = rng.normal(0, 1, size=(max(2, height // 24), max(2, width // 24))).astype(np.float32)
        smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))
        grain = rng.normal(0, 0.5, size=(height, width)).astype(np.float32)
        paper += scene.texture * (smooth / max(float(smooth.std()), 1e-6) + grain) / 2
    return paper


def encode(image: np.ndarray, quality: int | None) -> bytes:
    """An (H, W, 3) uint8 image as PNG bytes, or JPEG bytes at `quality`."""
    from PIL import Image

    buffer = io.BytesIO()
    if quality is None:
        Image.fromarray(image).save(buffer, format="PNG", compress_level=1)  # noise does not compress
    else:
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def read_photos(photos: list[Photo], method: str = "photo") -> tuple[np.ndarray, np.ndarray]:
    """Each photo decoded as `barenet predict` decodes files and preprocessed by `method`.

    Returns (digits (N, 28, 28) uint8, read (N,) bool): a photo the preprocessing refuses
    ("no visible digit") is left black and marked False.
    """
    from ..errors import InputError
    from .images import decode_grayscale, to_mnist

    digits = np.zeros((len(photos), 28, 28), dtype=np.uint8)
    read = np.ones(len(photos), dtype=bool)
    for k, photo in enumerate(photos):
        name = f"photo {k} ({photo.condition})"
        try:
            digits[k] = to_mnist(decode_grayscale(io.BytesIO(photo.data), name), name, method)
        except InputError:
            read[k] = False
    return digits, read


def accuracy_by_condition(photos: list[Photo], predicted: np.ndarray) -> dict[str, float]:
    """{condition: fraction of its photos whose predicted class (N,) is the label, ..., "all": overall}."""
    labels = np.array([photo.label for photo in photos])
    conditions = np.array([photo.condition for photo in photos])
    correct = np.asarray(predicted) == labels
    table = {name: float(correct[conditions == name].mean()) for name in CONDITIONS if (conditions == name).any()}
    table["all"] = float(correct.mean())
    return table
