"""Checks on what users hand to training, evaluation and prediction, at the boundary, before any work.

Parameters are checked against constraints declared as data (as scikit-learn's
`_parameter_constraints` does); arrays by small functions, one rule each. Every
failure is a BarenetError whose one-line message names the fix.

    features(x, in_features=784, dtype=float32)   -> (N, 784): uint8 kept as pixels, the rest as floats
    targets(y, n, classes=10, dtype=float32)       -> class ids (N,) int64, or dense targets (N, classes)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, InputError, LabelError, ShapeError, warn


@dataclass(frozen=True)
class Number:
    """A parameter that must be an int (or, with `integer=False`, any real number) in [low, high);
    None passes when `optional`. `says` completes "NAME must be ..."."""

    low: float
    high: float = math.inf
    integer: bool = True
    optional: bool = False
    says: str = ""

    def check(self, name: str, value) -> None:
        if value is None and self.optional:
            return
        kinds = (int, np.integer) if self.integer else (int, float, np.integer, np.floating)
        if isinstance(value, bool) or not isinstance(value, kinds) or not self.low <= value < self.high:
            raise ConfigError(f"{name} must be {self.says}, got {value!r}")


def check_parameters(values: dict, constraints: dict[str, Number]) -> None:
    """Check every named value against its declared constraint."""
    for name, value in values.items():
        constraints[name].check(name, value)


FIT_PARAMETERS = {
    "epochs": Number(0, says="a non-negative integer"),
    "batch_size": Number(1, optional=True, says="a positive integer or None (full batch)"),
    "validation_split": Number(0.0, 1.0, integer=False, says="a fraction in (0, 1), or 0 for none"),
    "max_steps": Number(1, optional=True, says="a positive integer or None"),
}


# ----- features ------------------------------------------------------------------
def features(x, in_features: int | None, dtype, name: str = "x") -> np.ndarray:
    """`x` as C-contiguous rows (N, features): uint8 pixels as they are (scaled batch by batch
    later), any other numbers as `dtype`. Images (N, H, W) are flattened."""
    x = _rows(_numeric(x, name), name)
    if in_features is not None and x.shape[1] != in_features:
        raise ShapeError(f"{name} has {x.shape[1]} features per sample (shape {x.shape}) but the model's "
                         f"first layer takes {in_features}")
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    if np.issubdtype(x.dtype, np.floating):
        _check_finite(x, name)
    _warn_if_unscaled(x, name)
    return np.ascontiguousarray(x, dtype=dtype)


def _numeric(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise InputError(f"{name} must be a numeric array, got dtype {x.dtype}")
    return x


def _rows(x: np.ndarray, name: str) -> np.ndarray:
    if x.ndim == 0 or x.shape[0] == 0:
        raise InputError(f"{name} is empty: give at least one sample")
    if x.ndim == 1:
        raise ShapeError(f"{name} has shape {x.shape}: give one sample per row, shape (batch, features)"
                         f" (use x.reshape(1, -1) for a single sample)")
    return x.reshape(x.shape[0], -1) if x.ndim > 2 else x


def _check_finite(x: np.ndarray, name: str) -> None:
    finite = np.isfinite(x)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise InputError(f"{name} contains {x[row, col]} at row {row}, column {col}: remove or impute "
                         f"non-finite values before training")


def _warn_if_unscaled(x: np.ndarray, name: str) -> None:
    peak = float(x.max())
    if peak > 10.0 and float(x.min()) >= 0.0:
        warn(f"{name} has values up to {peak:g}: these look like unscaled 0-255 pixels; divide by 255 "
             f"(or pass the uint8 images, which barenet scales itself)")


# ----- targets -------------------------------------------------------------------
def targets(y, n: int, classes: int | None, dtype, name: str = "y") -> np.ndarray:
    """Class ids (N,) int64 in [0, classes), or dense targets (N, classes) as `dtype`.
    With one output, (N,) values are binary or regression targets, returned as (N, 1)."""
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != n:
        raise ShapeError(f"{name} has {y.shape[0] if y.ndim else 0} labels for {n} samples: give one label per "
                         f"sample")
    if y.ndim == 2:
        return _dense(y, classes, dtype, name)
    if y.ndim != 1:
        raise ShapeError(f"{name} must be class ids (N,) or targets (N, classes), got shape {y.shape}")
    if classes == 1:
        return np.ascontiguousarray(y.reshape(-1, 1), dtype=dtype)
    return _class_ids(y, classes, name)


def _dense(y: np.ndarray, classes: int | None, dtype, name: str) -> np.ndarray:
    if classes is not None and y.shape[1] != classes:
        raise ShapeError(f"{name} has {y.shape[1]} columns but the model has {classes} outputs")
    if not np.isfinite(y).all():
        raise InputError(f"{name} contains NaN or infinite targets")
    return np.ascontiguousarray(y, dtype=dtype)


def _class_ids(y: np.ndarray, classes: int | None, name: str) -> np.ndarray:
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and (y == np.round(y)).all()):
            raise LabelError(f"{name} must hold integer class ids, got dtype {y.dtype} with non-integer values")
    labels = y.astype(np.int64)
    if classes is None:
        return labels
    bad = np.flatnonzero((labels < 0) | (labels >= classes))
    if len(bad):
        i = int(bad[0])
        hint = " (labels 1..N? subtract 1)" if labels.min() >= 1 and labels.max() == classes else ""
        raise LabelError(f"{name} must be class ids in [0, {classes}): found {labels[i]} at index {i}{hint}")
    return labels


# ----- splits --------------------------------------------------------------------
def holdout(x: np.ndarray, y: np.ndarray, fraction: float) -> tuple[tuple, tuple]:
    """((x_train, y_train), (x_val, y_val)): the last `fraction` of the rows held out, in order."""
    cut = len(x) - int(round(len(x) * fraction))
    if cut < 1 or cut == len(x):
        raise ConfigError(f"validation_split={fraction} leaves no data on one side")
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])
