"""Data augmentation: every training batch drawn afresh as randomly distorted copies of its images.

The best MLPs on MNIST owe their accuracy to distorted training digits: Simard, Steinkraus
and Platt (2003) reach 99.3% with elastic distortions; Ciresan et al. (2010) 99.65% with
elastic and affine ones. An `Augment` turns the uint8 rows of a batch into floats the way
`transforms.gather` does, but each image first moved by its own random transform:

    affine    rotation (degrees), isotropic scale, shear, shift (pixels), about the image centre
    elastic   Simard's displacement field: uniform noise in [-1, 1] per pixel and axis, smoothed by
              a Gaussian of `sigma` pixels, scaled by `alpha`
    flip      a horizontal mirror with probability 1/2 (for clothing; never for digits)
    erase     random erasing (Zhong et al. 2017): with probability `erase_probability`, a rectangle
              covering a uniform `erase_area` fraction of the image, of aspect ratio 0.3-3.3, set to 0

    augment = Augment(["affine", "elastic"], seed=0)
    x_batch = augment(x, index, np.float32)      # x (N, 784) uint8, index (B,) -> (B, 784) in [0, 1]

All transforms of an image are composed into one inverse map, output pixel -> source
point, and the batch is resampled in one pass (the `warp_bilinear` kernel). The
generator's state is part of `state_dict()`, so a resumed run draws the same batches.
Erasing comes last, on the resampled floats, and draws its numbers after the warp's: adding
it leaves every other transform's draws as they were.

Elastic fields at the cost of a few numbers. Smoothing is linear: with the smoothing
matrix G = U S V^T (H x H, the Gaussian filter with zero padding, as scipy's
`gaussian_filter(mode="constant")` applies it), a smoothed field is G F G^T = U S (V^T F V) S U^T.
For white noise F of variance 1/3, Z = V^T F V is white noise of the same variance
(V is orthogonal), so a field is drawn as U S Z S U^T with Z a k x k Gaussian, keeping
only the k singular directions whose variance matters (s_i > 1e-3 s_max). The fields
have Simard's covariance exactly, their values are Gaussian (as the sum of ~(8 sigma)^2
uniforms already is), and each costs 2 k^2 random numbers instead of 2 H W plus a filter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import ModuleType

import numpy as np

from ..backend import Backend, get_backend
from ..errors import ConfigError
from .transforms import PIXEL_SCALE

KINDS = ("affine", "elastic", "flip", "erase")
DEFAULTS: dict = {"rotation": 12.0, "scale": [0.9, 1.1], "shear": 0.1, "shift": 1.5, "alpha": 34.0, "sigma": 4.0,
                  "erase_probability": 0.5, "erase_area": [0.02, 0.4]}
ERASE_KEYS = ("erase_probability", "erase_area")
ERASE_ASPECT = (0.3, 1 / 0.3)  # Zhong et al.'s range of height / width
SINGULAR_CUTOFF = 1e-3
_NO_FIELDS = np.zeros((0, 2, 1, 1), np.float32)


class Augment:
    """Random distortions for a training set of H x W images (uint8 rows, or floats).

    transforms  any of "affine", "elastic", "flip", "erase"
    rotation  degrees: uniform in [-rotation, rotation]
    scale     (low, high): uniform zoom factor (1 = none)
    shear     uniform in [-shear, shear]: x moves by shear * (y - centre)
    shift     pixels: uniform in [-shift, shift] on each axis
    alpha, sigma   elastic strength (pixels) and smoothness (pixels)
    erase_probability, erase_area   how often a rectangle is erased, and its area as (low, high) fractions
    shape     (H, W); None: square images, H = W = sqrt(features)
    """

    def __init__(self, transforms: Sequence[str] = ("affine",), seed: int | Sequence[int] | None = None,
                 rotation: float = 12.0, scale: Sequence[float] = (0.9, 1.1), shear: float = 0.1, shift: float = 1.5,
                 alpha: float = 34.0, sigma: float = 4.0, erase_probability: float = 0.5,
                 erase_area: Sequence[float] = (0.02, 0.4), shape: Sequence[int] | None = None):
        self.transforms = tuple(check_transforms(transforms))
        self.rotation, self.scale, self.shear, self.shift = float(rotation), tuple(map(float, scale)), shear, shift
        self.alpha, self.sigma = float(alpha), float(sigma)
        self.erase_probability, self.erase_area = float(erase_probability), tuple(map(float, erase_area))
        check_ranges(self)
        self.shape = tuple(shape) if shape is not None else None
        self.rng = np.random.default_rng(seed)
        self._bases: tuple[np.ndarray, np.ndarray] | None = None

    def __repr__(self) -> str:
        return f"Augment({list(self.transforms)}, {', '.join(f'{k}={v!r}' for k, v in self.parameters().items())})"

    def parameters(self) -> dict:
        """The settings that shape the distortions (what a config's [augment] section holds)."""
        return {"rotation": self.rotation, "scale": list(self.scale), "shear": self.shear, "shift": self.shift,
                "alpha": self.alpha, "sigma": self.sigma, "erase_probability": self.erase_probability,
                "erase_area": list(self.erase_area)}

    # ----- a batch ---------------------------------------------------------------------
    def __call__(self, x, index, dtype=np.float32, backend: Backend | None = None):
        """Rows `index` of x (N, H*W), each distorted afresh: (B, H*W) floats, uint8 scaled to [0, 1].

        x, index and the result live on `backend`'s device (None: the CPU), where the warp runs. The random
        draws come from this augmentation's generator on the host, so every device distorts alike; what
        crosses to a device is small: the maps (B, 2, 3), the elastic fields' coefficients and the erased
        rectangles' mask, never the images."""
        backend = backend or get_backend("cpu")
        height, width = self.image_shape(x.shape[1])
        index = backend.xp.arange(x.shape[0])[index] if isinstance(index, slice) else backend.xp.asarray(index)
        count = len(index)
        matrices = backend.asarray(self.matrices(count, height, width))
        fields = (self.fields(count, height, width, backend) if "elastic" in self.transforms
                  else backend.asarray(_NO_FIELDS))
        out = backend.xp.empty((count, height * width), dtype=dtype)
        factor = PIXEL_SCALE if x.dtype == np.uint8 else 1.0
        backend.kernels.warp_bilinear(x, index, matrices, fields, height, width, factor, out)
        if "erase" in self.transforms:
            rectangles = backend.asarray(self.rectangles(count, height, width))
            out[erasing_mask(rectangles, height, width, backend.xp).reshape(count, -1)] = 0
        return out

    def image_shape(self, features: int) -> tuple[int, int]:
        if self.shape is not None:
            if self.shape[0] * self.shape[1] != features:
                raise ConfigError(f"augmentation shape {self.shape} does not hold {features} features per image")
            return int(self.shape[0]), int(self.shape[1])
        side = math.isqrt(features)
        if side * side != features:
            raise ConfigError(f"augmentation needs images: {features} features are not a square image; "
                              f"give Augment(shape=(height, width))")
        return side, side

    # ----- the transforms ------------------------------------------------------------
    def matrices(self, count: int, height: int, width: int) -> np.ndarray:
        """(count, 2, 3) float32: for each image the map output (x, y, 1) -> source (x, y)."""
        forward = np.tile(np.eye(2), (count, 1, 1))
        offset = np.zeros((count, 2))
        if "affine" in self.transforms:
            forward, offset = self._affine(count)
        if "flip" in self.transforms:
            forward[:, :, 0] *= np.where(self.rng.random(count) < 0.5, -1.0, 1.0)[:, None]
        return inverse_maps(forward, offset, ((width - 1) / 2, (height - 1) / 2))

    def _affine(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Forward 2x2 maps (rotation @ shear @ scale) and shifts, (count, 2, 2) and (count, 2)."""
        uniform = self.rng.uniform
        angle = np.radians(uniform(-self.rotation, self.rotation, count))
        zoom = uniform(self.scale[0], self.scale[1], count)
        shear = uniform(-self.shear, self.shear, count)
        cos, sin = np.cos(angle), np.sin(angle)
        rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
        shearing = np.tile(np.eye(2), (count, 1, 1))
        shearing[:, 0, 1] = shear
        forward = rotation @ shearing * zoom[:, None, None]
        return forward, uniform(-self.shift, self.shift, (count, 2))

    def fields(self, count: int, height: int, width: int, backend: Backend | None = None):
        """(count, 2, H, W) float32 elastic displacements (dx, dy) in pixels, on `backend`'s device (None: the
        CPU): low-rank coefficients drawn on the host, spread into fields by two products there."""
        if self._bases is None or self._bases[0].shape[0] != height or self._bases[1].shape[0] != width:
            self._bases = smoothing_basis(height, self.sigma), smoothing_basis(width, self.sigma)
        backend = backend or get_backend("cpu")
        rows, columns = (backend.asarray(basis) for basis in self._bases)
        noise = self.rng.standard_normal((count * 2, rows.shape[1], columns.shape[1]), dtype=np.float32)
        noise *= np.float32(self.alpha / math.sqrt(3.0))  # uniform in [-1, 1] has variance 1/3
        return (rows @ backend.asarray(noise) @ columns.T).reshape(count, 2, height, width)

    def erased(self, count: int, height: int, width: int) -> np.ndarray:
        """(count, H, W) bool: the pixels each image loses, one rectangle or none per image."""
        return erasing_mask(self.rectangles(count, height, width), height, width, np)

    def rectangles(self, count: int, height: int, width: int) -> np.ndarray:
        """(count, 4) int64 rows (top, left, tall, wide): the rectangle each image loses; tall = 0 for none."""
        hit = self.rng.random(count) < self.erase_probability
        area = self.rng.uniform(self.erase_area[0], self.erase_area[1], count) * (height * width)
        aspect = np.exp(self.rng.uniform(math.log(ERASE_ASPECT[0]), math.log(ERASE_ASPECT[1]), count))
        tall = np.clip(np.rint(np.sqrt(area * aspect)), 1, height).astype(np.int64)
        wide = np.clip(np.rint(np.sqrt(area / aspect)), 1, width).astype(np.int64)
        top = (self.rng.random(count) * (height - tall + 1)).astype(np.int64)
        left = (self.rng.random(count) * (width - wide + 1)).astype(np.int64)
        return np.stack([top, left, np.where(hit, tall, 0), wide], axis=1)

    # ----- state ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


def erasing_mask(rectangles, height: int, width: int, xp: ModuleType = np):
    """(count, H, W) bool from (count, 4) rows (top, left, tall, wide), with the array module of `rectangles`."""
    top, left, tall, wide = (rectangles[:, k, None] for k in range(4))
    rows, columns = xp.arange(height), xp.arange(width)
    in_rows = (rows >= top) & (rows < top + tall)
    in_columns = (columns >= left) & (columns < left + wide)
    return in_rows[:, :, None] & in_columns[:, None, :]


def inverse_maps(forward: np.ndarray, shift: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """(count, 2, 3) float32 maps output -> source for p' = c + forward (p - c) + shift (forward (count, 2, 2))."""
    a, b, c, d = forward[:, 0, 0], forward[:, 0, 1], forward[:, 1, 0], forward[:, 1, 1]
    det = a * d - b * c
    inverse = np.stack([np.stack([d, -b], -1), np.stack([-c, a], -1)], -2) / det[:, None, None]
    centre_xy = np.asarray(centre, dtype=np.float64)
    offset = centre_xy - np.einsum("nij,nj->ni", inverse, centre_xy + shift)
    return np.concatenate([inverse, offset[:, :, None]], axis=2).astype(np.float32)


def gaussian_matrix(size: int, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """(size, size): 1-D Gaussian smoothing with zero padding, as scipy.ndimage.gaussian_filter1d(mode="constant")."""
    radius = int(truncate * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    distance = np.arange(size)[:, None] - np.arange(size)[None, :]
    inside = np.abs(distance) <= radius
    return np.where(inside, taps[np.clip(distance + radius, 0, 2 * radius)], 0.0)


def smoothing_basis(size: int, sigma: float) -> np.ndarray:
    """(size, k) float32 U_k S_k of the Gaussian smoothing matrix, keeping singular values above the cutoff."""
    u, s, _ = np.linalg.svd(gaussian_matrix(size, sigma))
    keep = s > SINGULAR_CUTOFF * s[0]
    return (u[:, keep] * s[keep]).astype(np.float32)


def check_transforms(transforms: Sequence[str]) -> list[str]:
    if isinstance(transforms, str):
        transforms = [part for part in transforms.split(",") if part.strip()]
    chosen = [str(kind).strip().lower() for kind in transforms]
    for kind in chosen:
        if kind not in KINDS:
            raise ConfigError(f"unknown augmentation {kind!r}: use any of {', '.join(KINDS)}")
    return chosen


def check_ranges(augment: Augment) -> None:
    if len(augment.scale) != 2:
        raise ConfigError(f"augmentation scale {list(augment.scale)} must be two numbers [low, high], e.g. [0.9, 1.1]")
    low, high = augment.scale
    problems = [(not 0 < low <= high, f"scale {list(augment.scale)} must be (low, high) with 0 < low <= high"),
                (not 0 <= augment.rotation <= 180, f"rotation {augment.rotation} must be 0-180 degrees"),
                (not 0 <= augment.shear <= 1, f"shear {augment.shear} must be 0-1"),
                (not 0 <= augment.shift, f"shift {augment.shift} must be >= 0 pixels"),
                (not 0 <= augment.alpha, f"alpha {augment.alpha} must be >= 0 pixels"),
                (not 0 < augment.sigma <= 100, f"sigma {augment.sigma} must be in (0, 100] pixels"),
                (not 0 <= augment.erase_probability <= 1,
                 f"erase_probability {augment.erase_probability} must be 0-1"),
                (len(augment.erase_area) != 2 or not 0 < augment.erase_area[0] <= augment.erase_area[-1] <= 1,
                 f"erase_area {list(augment.erase_area)} must be [low, high] fractions with 0 < low <= high <= 1")]
    for bad, message in problems:
        if bad:
            raise ConfigError(f"augmentation {message}")
