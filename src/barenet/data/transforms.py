"""Array transforms for image datasets: scaling, standardising, flattening, one-hot, shuffles, batches.

`scale` is the one place where uint8 pixels become floats: prediction, the run's
input scaling and `batches` call it; training batches go through `gather`, whose
kernel picks rows and scales them in one pass (its reference is `scale` of the
picked rows). Images arrive as
uint8 (N, 28, 28); training converts them one batch at a time, so a 60,000-image
set never sits in memory as float64 (376 MB) the way `x / 255.0` notebooks keep it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..backend import Backend
from ..errors import ConfigError, InputError, LabelError
from ..nn.functional import one_hot as _one_hot

PIXEL_SCALE = 1.0 / 255.0
MNIST_MEAN = 0.1307  # mean of the MNIST training pixels scaled to [0, 1]
MNIST_STD = 0.3081   # their standard deviation


def scale(x, dtype=np.float32, factor: float = PIXEL_SCALE):
    """uint8 pixels (N, ...) to floats `x * factor` (default: [0, 1]), same shape, new array.

    A cast, then an in-place multiply: together 40% faster than one mixed-type multiply,
    which buffers. Works on any array with `astype` (NumPy, or CuPy on a GPU).
    """
    floats = x.astype(dtype) if hasattr(x, "astype") else np.asarray(x, dtype=dtype)
    floats *= floats.dtype.type(factor)
    return floats


def to_floats(batch, dtype):
    """A batch as the model's floats: uint8 pixels scaled to [0, 1] by `scale`, other numbers as they are
    (the same array, on its device)."""
    return scale(batch, dtype) if batch.dtype == np.uint8 else batch


def gather(x, index, dtype, backend: Backend):
    """Rows `index` of x (N, features) as the model's floats (batch, features): uint8 pixels are picked
    and scaled in one pass (the backend's `gather_scaled` kernel); a slice or float rows go through
    `to_floats`. x and index on the backend's device; the batch is made there."""
    if x.dtype != np.uint8 or isinstance(index, slice) or x.ndim != 2:
        return to_floats(x[index], dtype)
    out = backend.xp.empty((len(index), x.shape[1]), dtype=dtype)
    backend.kernels.gather_scaled(x, index, out.dtype.type(PIXEL_SCALE), out)
    return out


def standardize(x: np.ndarray, mean: float | None = MNIST_MEAN, std: float | None = MNIST_STD) -> np.ndarray:
    """(pixels / 255 - mean) / std as float32; `mean=None, std=None` computes them from `x` itself.

    uint8 input is scaled to [0, 1] first, so the MNIST constants apply to raw pixels too.
    """
    x = np.asarray(x)
    pixels = x.dtype == np.uint8
    if mean is None or std is None:
        floats = scale(x) if pixels else x.astype(np.float32)
        mean = float(floats.mean(dtype=np.float64)) if mean is None else mean
        std = float(floats.std(dtype=np.float64)) if std is None else std
    if not std > 0:
        raise InputError("cannot standardise: the pixels have zero spread (std 0); check the input images")
    if pixels:  # one multiply and one subtract on the raw values: x / (255 std) - mean / std
        standardized = scale(x, factor=1.0 / (255.0 * std))
        standardized -= np.float32(mean / std)
        return standardized
    return (x.astype(np.float32) - np.float32(mean)) / np.float32(std)


def flatten(x: np.ndarray) -> np.ndarray:
    """(N, H, W, ...) to (N, H*W*...), a view when possible."""
    x = np.asarray(x)
    return x.reshape(len(x), -1)


def one_hot(y: np.ndarray, classes: int = 10, dtype=np.float32) -> np.ndarray:
    """Class ids (N,) to one-hot rows (N, classes)."""
    y = np.asarray(y)
    if y.ndim != 1 or (y.size and (y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= classes)):
        raise LabelError(f"one_hot needs integer class ids in [0, {classes}) of shape (N,), got {y.dtype}{y.shape}")
    return _one_hot(y, classes, dtype)


def from_one_hot(y: np.ndarray) -> np.ndarray:
    """One-hot (or probability) rows (N, classes) back to class ids (N,) int64."""
    y = np.asarray(y)
    if y.ndim != 2:
        raise LabelError(f"from_one_hot needs rows of shape (N, classes), got {y.shape}")
    return y.argmax(axis=1).astype(np.int64)


def shuffle(x: np.ndarray, y: np.ndarray, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """The same random permutation applied to x (N, ...) and y (N,); reproducible for a given seed."""
    _same_length(x, y)
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order], y[order]


def split(x: np.ndarray, y: np.ndarray, holdout: int | float, seed: int | None = None):
    """((x_a, y_a), (x_b, y_b)): the last `holdout` rows (count, or fraction of N) go to b.

    With `seed`, the rows are shuffled reproducibly first; without, file order is kept.
    """
    n = _same_length(x, y)
    count = int(round(holdout * n)) if isinstance(holdout, float) else int(holdout)
    if not 0 <= count <= n:
        raise ConfigError(f"cannot hold out {holdout} of {n} rows: give a count in 0..{n} or a fraction in [0, 1]")
    if seed is not None:
        x, y = shuffle(x, y, seed)
    cut = n - count
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def balanced_subset(y: np.ndarray, size: int, classes: int, seed: int = 0) -> np.ndarray:
    """Indices (size,), sorted, of a reproducible class-balanced sample of labels `y` (N,).

    Each class gets size // classes rows; the first size % classes classes get one more.
    """
    rng = np.random.default_rng(seed)
    picks = []
    for label in range(classes):
        want = size // classes + (1 if label < size % classes else 0)
        pool = np.flatnonzero(y == label)
        if want > len(pool):
            raise ConfigError(f"a balanced subset of {size} needs {want} images of class {label} "
                              f"but there are {len(pool)}: choose a smaller subset")
        picks.append(rng.permutation(pool)[:want])
    return np.sort(np.concatenate(picks)) if picks else np.zeros(0, dtype=np.int64)


def batches(x: np.ndarray, y: np.ndarray | None = None, batch_size: int = 128, shuffle: bool = False,
            seed: int | np.random.Generator = 0, flat: bool = True) -> Iterator:
    """Yield (x_batch float32 (B, features) in [0, 1], y_batch) — or x_batch alone without y.

    uint8 pixels are converted per batch; float input is passed through as float32.
    """
    n = len(x) if y is None else _same_length(x, y)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    order = np.random.default_rng(seed).permutation(n) if shuffle else None
    for start in range(0, n, batch_size):
        rows = slice(start, start + batch_size) if order is None else order[start:start + batch_size]
        xb = x[rows]
        xb = scale(xb) if xb.dtype == np.uint8 else xb.astype(np.float32, copy=False)
        xb = flatten(xb) if flat else xb
        yield xb if y is None else (xb, y[rows])


def _same_length(x, y) -> int:
    if len(x) != len(y):
        raise InputError(f"x has {len(x)} rows but y has {len(y)}: they must match")
    return len(x)
