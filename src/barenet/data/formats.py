"""Readers (and an IDX writer) for the file formats MNIST-style datasets come in.

- IDX, raw or gzip (LeCun's files, torchvision, Zalando, Debian)
- Keras `mnist.npz` (loaded with `allow_pickle=False`)
- Nielsen's `mnist.pkl.gz` (a restricted unpickler: NumPy arrays only, nothing runs)
- pixel CSV, Kaggle-style (`label,pixel0..pixel783`; a test CSV without the label column): the
  one CSV reader, used by `datasets` and by `barenet predict`

Every problem with a file raises `DataError` with a one-line message.
"""

from __future__ import annotations

import gzip
import io
import math
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io.files import atomic_write_bytes
from ..io.readers import gunzip, read_regular

# IDX type codes (http://yann.lecun.com/exdb/mnist/): code -> big-endian dtype
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}


def read_bytes(path) -> bytes:
    """The bytes of a regular file (size-checked), gunzipped when it is gzip (by magic number, with a bound)."""
    return gunzip(read_regular(path, what="data file"), str(path))


# ---------------------------------------------------------------- IDX

def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes: magic 0x0000, a type code, a dimension count, then big-endian sizes."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{source} is not an IDX file (bad magic number): expected the MNIST IDX format")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise DataError(f"{source} has unknown IDX type code 0x{code:02x}")
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise DataError(f"{source} has a truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[code])
    expected = 4 + 4 * ndim + math.prod(shape) * dtype.itemsize  # Python ints: no wrap-around to 0
    if len(data) != expected:
        raise DataError(f"{source} is {len(data)} bytes but its header {shape} needs {expected}: "
                        f"the file is truncated or corrupt")
    array = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path) -> np.ndarray:
    """Read an IDX file (raw or gzip) such as `train-images-idx3-ubyte.gz` into an array."""
    return parse_idx(read_bytes(path), str(path))


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of `array` (uint8, int8, int16, int32, float32 or float64; any shape)."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _IDX_CODES or array.ndim == 0:
        raise DataError(f"cannot write a {array.dtype} array of {array.ndim} dimensions as IDX: "
                        f"use uint8/int8/int16/int32/float32/float64 with at least one dimension")
    header = bytes([0, 0, _IDX_CODES[native], array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()


def write_idx(path, array: np.ndarray) -> Path:
    """Write `array` as an IDX file, gzip-compressed when `path` ends in `.gz`; atomic."""
    data = idx_bytes(array)
    if str(path).endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    return atomic_write_bytes(path, data)


def check_pair(images: np.ndarray, labels: np.ndarray, source: str = "data") -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) uint8 and labels (N,) as int64; DataError when the counts or shapes disagree."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3:
        raise DataError(f"{source}: images have shape {images.shape}, expected (N, height, width)")
    if labels.ndim != 1:
        raise DataError(f"{source}: labels have shape {labels.shape}, expected (N,)")
    if len(images) != len(labels):
        raise DataError(f"{source}: {len(images)} images but {len(labels)} labels: "
                        f"the image and label files do not belong together")
    return images.astype(np.uint8, copy=False), labels.astype(np.int64)


# ---------------------------------------------------------------- Keras npz

KERAS_KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_keras_npz(path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Keras's `mnist.npz`: ((x_train (N,28,28) uint8, y_train (N,) int64), (x_test, y_test)).

    Loaded with `allow_pickle=False`, so an npz holding Python objects is refused.
    """
    import zipfile

    try:
        check_npz_members(path)
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in KERAS_KEYS if key not in npz.files]
            if missing:
                raise DataError(f"{path} lacks {', '.join(missing)}: a Keras MNIST npz holds {', '.join(KERAS_KEYS)}")
            arrays = [npz[key] for key in KERAS_KEYS]
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is not a readable npz file ({one_line(exc)}): download it again") from None
    x_train, y_train, x_test, y_test = arrays
    return check_pair(x_train, y_train, f"{path} (train)"), check_pair(x_test, y_test, f"{path} (test)")


def check_npz_members(path) -> None:
    """Each .npy inside the archive: its header's shape and dtype must fit the member's declared size
    (which zipfile enforces while reading), so no array bigger than the archive says is ever allocated."""
    import zipfile

    from numpy.lib import format as npy

    on_disk = Path(path).stat().st_size
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.file_size > MAX_NPZ_MEMBER_BYTES:
                raise DataError(f"{path}: {info.filename} unpacks to {info.file_size:,} bytes, more than "
                                f"{MAX_NPZ_MEMBER_BYTES:,}: not a dataset barenet reads")
            with archive.open(info) as member:
                version = npy.read_magic(member)
                header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
                shape, _, dtype = header(member)
            if math.prod(shape) * dtype.itemsize > info.file_size:
                raise DataError(f"{path}: {info.filename} claims {dtype}{list(shape)} in {info.file_size:,} "
                                f"bytes ({on_disk:,} on disk): the file is corrupt")


MAX_NPZ_MEMBER_BYTES = 1 << 30


def one_line(exc: BaseException) -> str:
    """An exception's message squeezed onto one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


# ---------------------------------------------------------------- Nielsen pickle

def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """Python 3 protocol-2 pickles store bytes as `_codecs.encode(text, "latin1")`; only that is allowed."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise DataError(f"pickle asks for an unexpected encoding {encoding!r}: refused")
    return text.encode("latin1")


def _numpy_globals() -> dict[tuple[str, str], object]:
    """The only callables a NumPy-array pickle needs, under their NumPy 1 and NumPy 2 names."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's _reconstruct, without private imports
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype, ("_codecs", "encode"): _latin1}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = reconstruct
    return allowed


def safe_unpickle(stream, source: str = "pickle"):
    """Unpickle `stream` admitting only NumPy array reconstruction; anything else is refused.

    `find_class` is the only door a pickle has to code; it opens for `ndarray`, `dtype`,
    `_reconstruct` and a latin-1-only `_codecs.encode` (how Python 3 pickles bytes at
    protocol 2) alone, so a payload such as `os.system` fails before it runs.
    """
    import pickle

    allowed = _numpy_globals()

    class _Restricted(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in allowed:
                return allowed[(module, name)]
            raise DataError(f"{source} tries to load {module}.{name}, which is not a NumPy array: refused "
                            f"(the file is not a plain MNIST pickle; do not trust it)")

    try:
        # encoding="bytes": Python 2 strings (the arrays' data) stay bytes, no 150 MB str copies
        return _Restricted(stream, encoding="bytes").load()
    except DataError:
        raise
    except Exception as exc:  # a damaged pickle raises many kinds of errors
        raise DataError(f"{source} is not a readable pickle ({one_line(exc)}): download it again") from None


def read_nielsen_pkl(path) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Nielsen's `mnist.pkl.gz`: ((x, y), (x_val, y_val), (x_test, y_test)).

    x is float32 (N, 784) holding pixel/256, y int64 (N,). Read with `safe_unpickle`.
    """
    path = Path(path)
    try:
        with path.open("rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
            data = safe_unpickle(stream, str(path))
    except OSError as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"cannot read {path}: {one_line(exc)}") from None
    return _check_nielsen(data, str(path))


def _check_nielsen(data, source: str) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    if not (isinstance(data, tuple) and len(data) == 3):
        raise DataError(f"{source} does not hold the (train, validation, test) tuple of Nielsen's mnist.pkl.gz")
    parts = []
    for part in data:
        if not (isinstance(part, tuple) and len(part) == 2 and all(isinstance(a, np.ndarray) for a in part)):
            raise DataError(f"{source} does not hold (images, labels) array pairs")
        x, y = part
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or x.dtype.kind != "f" or y.dtype.kind not in "iu":
            raise DataError(f"{source}: expected float images (N, 784) and integer labels (N,), "
                            f"got {x.dtype}{x.shape} and {y.dtype}{y.shape}")
        parts.append((x, y.astype(np.int64)))
    return tuple(parts)


def nielsen_to_uint8(x: np.ndarray, source: str = "pickle") -> np.ndarray:
    """Nielsen's pixels (N, 784) float, stored as byte/256, back to bytes (N, 28, 28) uint8."""
    side = int(round(np.sqrt(x.shape[1])))
    if side * side != x.shape[1]:
        raise DataError(f"{source}: {x.shape[1]} pixels per image is not a square image")
    out = np.empty(x.shape, dtype=np.uint8)
    for start in range(0, len(x), 8192):  # in chunks: no full-size float temporaries
        scaled = np.rint(np.asarray(x[start:start + 8192], dtype=np.float32) * np.float32(256))
        if scaled.size and (scaled.min() < 0 or scaled.max() > 255):
            raise DataError(f"{source}: pixel values outside [0, 255/256]: not Nielsen's MNIST encoding")
        out[start:start + 8192] = scaled
    return out.reshape(len(x), side, side)


# ---------------------------------------------------------------- Kaggle CSV

def read_csv(path, labels: bool | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """A pixel CSV: images (N, side, side) and labels (N,) int64, or None without a label column.

    Integer pixels 0..255 come back as uint8; fractional pixels, all within [0, 1] (already
    scaled), as float32. A header row is detected and skipped; `labels=None` decides from the
    header (a first column named `label`) or, without a header, from the column count
    (side*side + 1).
    """
    return parse_csv(read_bytes(path), str(path), labels)


def parse_csv(raw: bytes, path: str, labels: bool | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """`read_csv` on the bytes of a CSV file (`path` names it in messages)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text (byte {exc.start}): expected a CSV of pixel rows") from None
    lines = text.splitlines()
    while lines and not lines[0].strip():  # blank lines before the first row
        lines.pop(0)
    if not lines:
        raise DataError(f"{path} is empty: expected a CSV of pixel rows")
    first = [cell.strip().strip('"').lower() for cell in lines[0].split(",")]
    header = not _is_number(first[0])
    if labels is None:
        labels = first[0] == "label" if header else not _is_square(len(first))
    table = _parse_rows(lines[1:] if header else lines, len(first), str(path), 2 if header else 1)
    if not len(table):
        raise DataError(f"{path} has a header but no rows of pixels: expected one image per row")
    y = _label_column(table[:, 0], str(path)) if labels else None
    pixels = table[:, 1:] if labels else table
    if not _is_square(pixels.shape[1]):
        raise DataError(f"{path} has {pixels.shape[1]} pixel columns, not a square image "
                        f"(28x28 needs 784{' plus the label' if labels else ''})")
    side = int(round(np.sqrt(pixels.shape[1])))
    return _pixel_array(pixels, str(path)).reshape(len(pixels), side, side), y


def _label_column(column: np.ndarray, source: str) -> np.ndarray:
    if column.size and not np.all(column == np.round(column)):
        raise DataError(f"{source} has a label that is not a whole number: the first column holds class ids")
    return column.astype(np.int64)


def _pixel_array(pixels: np.ndarray, source: str) -> np.ndarray:
    """uint8 for whole numbers in 0..255, float32 for fractions in [0, 1]; DataError otherwise."""
    whole = bool(np.all(pixels == np.round(pixels)))
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255 or (not whole and pixels.max() > 1)):
        raise DataError(f"{source} has pixel values outside 0..255 (whole numbers) or 0..1 (fractions)")
    return pixels.astype(np.uint8) if whole else pixels.astype(np.float32)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_square(n: int) -> bool:
    side = int(round(np.sqrt(n)))
    return n > 0 and side * side == n


def _parse_rows(lines: list[str], columns: int, source: str, first_line: int) -> np.ndarray:
    """The CSV body as a float64 (rows, columns) table; DataError naming the first bad line."""
    body = [line for line in lines if line.strip()]
    for number, line in enumerate(lines, start=first_line):
        if line.strip() and line.count(",") + 1 != columns:
            raise DataError(f"{source} line {number} has {line.count(',') + 1} columns, expected {columns}")
    if not body:
        return np.zeros((0, columns), dtype=np.float64)
    try:
        table = np.loadtxt(io.StringIO("\n".join(body)), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise DataError(f"{source} has a non-numeric cell ({one_line(exc)})") from None
    if not np.isfinite(table).all():
        raise DataError(f"{source} has a non-numeric cell (nan or inf)")
    return table
