"""The CPU backend: NumPy arrays, a kernel set, a GEMM provider and subnormals flushed to zero.

    cpu.make()                               # what the environment asks for (BARENET_KERNELS, BARENET_GEMM)
    cpu.make(kernels="numpy", gemm="mkl")    # the reference kernels and MKL's GEMM, for one model

One Backend per combination and process: every model and layer on the same choice shares it.
"""

from __future__ import annotations

import functools

import numpy

from ..device import Backend
from . import floats, gemm, kernels


def make(kernel_choice: str | None = None, gemm_choice: str | None = None) -> Backend:
    """The CPU backend for a kernel set ("fused", "numpy") and a GEMM provider ("auto", "numpy", "mkl");
    None takes the environment's choice (checked: one-line ConfigErrors)."""
    return _make(kernel_choice or kernels.requested(), gemm_choice or gemm.requested())


@functools.cache
def _make(kernel_choice: str, gemm_choice: str) -> Backend:
    return Backend("cpu", numpy, kernels=kernels.kernel_set(kernel_choice), gemm=gemm.provider(gemm_choice),
                   floats=_floats(), on_host=True)


@functools.cache
def _floats() -> floats.FlushToZero | floats.Unchanged:
    return floats.policy()
