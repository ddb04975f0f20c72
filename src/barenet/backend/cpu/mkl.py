"""Intel MKL's GEMM, called through ctypes from PyPI's `mkl` wheel (`pip install "barenet[mkl]"`).

PyTorch's CPU build multiplies matrices with MKL; NumPy's wheels with OpenBLAS. On Intel
Xeons MKL's SGEMM was measured 1.19-1.32x faster than OpenBLAS's for this project's layer
shapes; on AMD it may be the slower one. `backend/cpu/gemm.py` decides per machine.

    gemm = MklGemm(library_path())      # None when the wheel is not installed
    gemm.matmul(x, W, out=y)            # y (m, n) = x (m, k) @ W (k, n); x, W may be `.T` views

Row-major CBLAS: a C-contiguous operand is passed as is ("no transpose", its leading
dimension the row stride), a transposed view of one as "transpose" (its leading dimension
the column stride), so `x.T @ grad` and `grad @ W.T` need no copies. Anything else
(other dtypes, more dimensions, strided views, a non-contiguous `out`) goes to NumPy.
`out` must not overlap `a` or `b` (NumPy would copy; BLAS does not).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
from pathlib import Path

import numpy as np

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def blas_threads(count: int | None) -> contextlib.AbstractContextManager:
    """At most `count` threads for every BLAS in the process (OpenBLAS and MKL: threadpoolctl knows both)
    inside the block; None changes nothing."""
    if count is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=count, user_api="blas")


def library_path() -> Path | None:
    """libmkl_rt from the installed `mkl` distribution, or None when it is not installed."""
    try:
        files = importlib.metadata.files("mkl") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = sorted(Path(str(f.locate())).resolve() for f in files if Path(str(f)).name.startswith("libmkl_rt.so"))
    return found[-1] if found else None


def _gemm_function(function, real):
    function.argtypes = [ctypes.c_int] * 6 + [real, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                             real, ctypes.c_void_p, ctypes.c_int]
    function.restype = None
    return function


def _operand(array) -> tuple[int, int] | None:
    """(CBLAS transpose flag, leading dimension) of a 2-D operand (rows, cols), or None if BLAS cannot read it."""
    rows, cols = array.shape
    row_stride, col_stride = (s // array.itemsize for s in array.strides)
    if (col_stride == 1 or cols == 1) and row_stride >= max(1, cols):
        return NO_TRANS, row_stride if rows > 1 else max(1, cols)
    if (row_stride == 1 or rows == 1) and col_stride >= max(1, rows):
        return TRANS, col_stride if cols > 1 else max(1, rows)
    return None


class MklGemm:
    """Matrix products by MKL's `cblas_sgemm`/`cblas_dgemm`."""

    name = "mkl"

    def __init__(self, path: Path):
        self.path = path
        self.library = ctypes.CDLL(str(path))
        self._gemm = {np.dtype(np.float32): _gemm_function(self.library.cblas_sgemm, ctypes.c_float),
                      np.dtype(np.float64): _gemm_function(self.library.cblas_dgemm, ctypes.c_double)}

    def matmul(self, a, b, out=None):
        """a (m, k) @ b (k, n) -> (m, n), into `out` when given."""
        gemm = self._gemm.get(a.dtype)
        if gemm is None or a.ndim != 2 or b.ndim != 2 or b.dtype != a.dtype or a.shape[1] != b.shape[0]:
            return np.matmul(a, b, out=out)
        (m, k), n = a.shape, b.shape[1]
        if out is None:
            out = np.empty((m, n), dtype=a.dtype)
        elif out.shape != (m, n) or out.dtype != a.dtype or not out.flags.c_contiguous:
            return np.matmul(a, b, out=out)
        layout_a, layout_b = _operand(a), _operand(b)
        if layout_a is None or layout_b is None or m == 0 or n == 0 or k == 0:
            return np.matmul(a, b, out=out)
        gemm(ROW_MAJOR, layout_a[0], layout_b[0], m, n, k, 1.0, a.ctypes.data, layout_a[1],
             b.ctypes.data, layout_b[1], 0.0, out.ctypes.data, max(1, n))
        return out

    def threads(self, count: int | None) -> contextlib.AbstractContextManager:
        """At most `count` threads inside the block (None: as many as the library uses)."""
        return blas_threads(count)

    def version(self) -> str:
        """"2026.2.1" (MKL's own version string, shortened), or the library's file name."""
        buffer = ctypes.create_string_buffer(256)
        try:
            self.library.mkl_get_version_string(buffer, len(buffer))
        except AttributeError:
            return self.path.name
        words = buffer.value.decode(errors="replace").split()
        return next((word.split("-")[0] for word in words if word[:1].isdigit()), self.path.name)

    def describe(self) -> str:
        return f"mkl (MKL {self.version()})"
