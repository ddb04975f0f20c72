"""What `barenet predict` is given: image files and batches, told apart by their bytes, never by their names.

    kind_of(path)      "image" or "batch" (from the magic bytes; a FIFO or folder is refused, not opened)
    read_batch(path)   samples (N, H, W) or (N, features) from .npy, IDX or a pixel CSV, raw or gzip,
                       with their values checked: uint8 pixels 0..255, or floats already scaled to [0, 1]

Sizes are checked against the file and against limits before any array is allocated.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from ..errors import DataError, InputError
from ..io.readers import IMAGE_KINDS, check_regular, gunzip, read_regular, sniff
from .formats import parse_csv, parse_idx
from .images import IMAGE_SUFFIXES

MAX_BATCH_BYTES = 1 << 27  # 128 MiB of samples (170,000 28x28 images as uint8; split bigger batches)
READS = "predict reads images (PNG, JPEG, GIF, BMP, TIFF, WebP) and batches (.npy, IDX, or a CSV of pixel rows)"
REFUSED = {"zip": "an .npz/.zip archive: save one array with numpy.save as .npy",
           "pickle": "a Python pickle: barenet never unpickles input; save the array with numpy.save as .npy",
           "binary": "not a format barenet reads: give PNG/JPEG images, or a batch as .npy, .csv or IDX"}


def kind_of(path: Path) -> str:
    """"image" or "batch" for a regular file, from its first bytes (gzip is looked inside)."""
    if check_regular(path, "input file").st_size == 0:
        raise DataError(f"{path} is empty (0 bytes): {READS}")
    with open(path, "rb") as handle:
        head = handle.read(64)
    kind = sniff(head)
    if kind in IMAGE_KINDS:
        return "image"
    if path.suffix.lower() in IMAGE_SUFFIXES:  # the bytes decide; the name only makes the message clear
        raise DataError(f"{path} is not an image barenet can read (its bytes are {kind}, not an image): {READS}")
    return "batch"


def read_batch(path: Path) -> np.ndarray:
    """Samples from a .npy, IDX or CSV file (raw or gzip): uint8 (N, ...) pixels or float32 in [0, 1]."""
    data = gunzip(read_regular(path, MAX_BATCH_BYTES, "batch file"), str(path), MAX_BATCH_BYTES)
    kind = sniff(data[:64])
    if kind in REFUSED or kind == "gzip" or kind in IMAGE_KINDS:
        reason = REFUSED.get(kind, "compressed twice or an image inside gzip: give it uncompressed")
        raise DataError(f"{path} is {reason}")
    if kind == "npy":
        samples = read_npy(data, str(path))
    elif kind == "idx":
        samples = parse_idx(data, str(path))
    else:
        samples = csv_batch(data, path)
    return checked_pixels(samples, str(path))


def csv_batch(data: bytes, path: Path) -> np.ndarray:
    """Pixel rows from a text file; a text that is no pixel CSV (a script, notes) is told what predict reads."""
    try:
        return parse_csv(data, str(path))[0]
    except DataError as exc:
        detail = str(exc).removeprefix(f"{path} ")
        raise DataError(f"{path} is not a CSV of pixel rows ({detail}): {READS}") from None


def read_npy(data: bytes, source: str) -> np.ndarray:
    """A .npy array from bytes: its header's dtype and shape checked against the byte count first."""
    from numpy.lib import format as npy

    stream = io.BytesIO(data)
    try:
        version = npy.read_magic(stream)
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran, dtype = read_header(stream, max_header_size=10_000)
    except (ValueError, SyntaxError, TypeError, OverflowError) as exc:
        raise DataError(f"{source} is not a readable .npy array ({exc})") from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
        raise DataError(f"{source} holds {dtype} values: give numbers (uint8 pixels or floats in [0, 1])")
    needed = math.prod(shape) * dtype.itemsize
    if needed != len(data) - stream.tell():
        raise DataError(f"{source} declares {dtype}{list(shape)} ({needed:,} bytes) but holds "
                        f"{len(data) - stream.tell():,}: the file is truncated or corrupt")
    return np.frombuffer(data, dtype=dtype, offset=stream.tell()).reshape(shape, order="F" if fortran else "C")


def checked_pixels(samples: np.ndarray, source: str) -> np.ndarray:
    """uint8 for whole numbers 0..255, float32 for values within [0, 1]; InputError for anything else."""
    if samples.ndim == 0 or samples.size == 0:
        raise InputError(f"{source} holds no samples (shape {list(samples.shape)}): give at least one image")
    if samples.dtype.kind == "b" or samples.dtype.kind not in "iuf":
        raise InputError(f"{source} holds {samples.dtype} values: give uint8 pixels or floats in [0, 1]")
    if samples.dtype.kind == "f" and not np.isfinite(samples).all():
        raise InputError(f"{source} holds NaN or infinite values: give pixels 0..255 or floats in [0, 1]")
    low, high = samples.min(), samples.max()
    if samples.dtype.kind in "iu" or (np.all(samples == np.round(samples)) and high > 1):
        if low < 0 or high > 255:
            raise InputError(f"{source} holds values from {low} to {high}: pixels must be 0..255 (or floats in "
                             f"[0, 1])")
        return samples.astype(np.uint8)
    if low < 0 or high > 1:
        raise InputError(f"{source} holds fractional values from {low:g} to {high:g}: floats must be scaled to "
                         f"[0, 1] (or give whole pixels 0..255)")
    return samples.astype(np.float32)
