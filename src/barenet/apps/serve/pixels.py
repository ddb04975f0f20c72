"""`pixel_rows`: the JSON body `{"pixels": [...]}` of POST /api/predict, checked, as uint8 rows.

The checks are made here, with NumPy, rather than by the pydantic schema, so that each
problem gets one plain sentence ("784 values per image, not 783") instead of the
union of both alternatives' validation errors.
"""

from __future__ import annotations

import json

import numpy as np

from ...errors import DataError, InputError, ShapeError
from .limits import LimitError

SHAPE_HINT = 'send {"pixels": [784 gray levels 0-255]} or a list of such rows'


def parse_json(body: bytes) -> object:
    """The JSON document in `body`; DataError (HTTP 400) when it is not JSON."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DataError(f"the body is not valid JSON ({type(exc).__name__}): {SHAPE_HINT}") from None


def pixel_rows(document: object, features: int, max_batch: int) -> tuple[np.ndarray, bool]:
    """(uint8 (N, features), whether a batch was sent) from `{"pixels": row}` or `{"pixels": [row, ...]}`."""
    if not isinstance(document, dict) or set(document) != {"pixels"}:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise InputError(f"the JSON body must be an object with the one key 'pixels' (got {keys}): {SHAPE_HINT}")
    pixels = _array(document["pixels"])
    if pixels.ndim not in (1, 2) or pixels.shape[-1] != features:
        raise ShapeError(f"pixels has shape {list(pixels.shape)}; each image needs {features} values "
                         f"(28x28, row by row): {SHAPE_HINT}")
    if pixels.dtype.kind not in "iu" or _holds_booleans(document["pixels"]):
        kind = "true/false" if pixels.dtype.kind in "biu" else pixels.dtype.name
        raise InputError(f"pixels must be whole numbers 0..255 (got {kind} values): {SHAPE_HINT}")
    if pixels.ndim == 2 and not 1 <= len(pixels) <= max_batch:
        raise (LimitError if len(pixels) else InputError)(
            f"a batch of {len(pixels)} images: this server takes 1 to {max_batch} per request")
    if pixels.min() < 0 or pixels.max() > 255:
        raise InputError(f"pixels must be gray levels 0..255; found {pixels.min()}..{pixels.max()}")
    return pixels.astype(np.uint8).reshape(-1, features), pixels.ndim == 2


def _array(pixels: object) -> np.ndarray:
    """`pixels` as an array; InputError for anything but a non-empty list of numbers or of equally long rows."""
    if not isinstance(pixels, list) or not pixels:
        raise InputError(f"pixels must be a non-empty list: {SHAPE_HINT}")
    try:
        return np.asarray(pixels)
    except (ValueError, TypeError, OverflowError):
        raise InputError(f"pixels must be a list of numbers or of equally long rows: {SHAPE_HINT}") from None


def _holds_booleans(pixels: list) -> bool:
    """Whether a row (or a list of rows) holds true or false: NumPy would read [true, 0, ...] as [1, 0, ...]."""
    rows = pixels if isinstance(pixels[0], list) else [pixels]
    return any(isinstance(value, bool) for row in rows for value in row)
