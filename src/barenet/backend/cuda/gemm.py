"""The GPU's matrix products: cuBLAS, through CuPy's `matmul`."""

from __future__ import annotations

import contextlib
from typing import Any


class CublasGemm:
    """Matrix products by `cupy.matmul` (cuBLAS); a and b may be transposed views, as on the CPU."""

    name = "cublas"

    def __init__(self, cupy: Any):
        self.cupy = cupy
        self.matmul = cupy.matmul

    def threads(self, count: int | None) -> contextlib.AbstractContextManager:
        """Host BLAS threads do not apply: cuBLAS runs on the GPU."""
        return contextlib.nullcontext()

    def describe(self) -> str:
        version = self.cupy.cuda.runtime.runtimeGetVersion()
        return f"cublas (CUDA {version // 1000}.{version % 1000 // 10}, CuPy {self.cupy.__version__})"
