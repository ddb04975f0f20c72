"""Subnormal numbers on the CPU: flushed to zero on the thread that trains.

Some weights get a gradient of exactly 0 at every step (those of MNIST's border pixels,
always 0), so their momentum buffers decay as v <- 0.9 v and, after about 800 steps, fall
below float32's smallest normal number (1.18e-38). Intel cores take about a hundred
cycles for each operation on such a subnormal number (AMD's Zen barely slows down): a
fused SGD update over 109k parameters went from 30 us to 1,454 us on a Xeon.

The choice here: set the CPU's flush-to-zero and denormals-are-zero modes (x86-64: the
FTZ and DAZ bits of MXCSR; AArch64: FZ in FPCR) for the thread that trains, and restore
the caller's modes afterwards, rather than making every kernel test for tiny values. One
switch covers every kernel set (fused, NumPy reference), every element-wise NumPy call
and the single-threaded GEMMs of small steps, and costs nothing per element. Results
change only where a value would have been below float32's normal range (it becomes 0).
Each thread has its own modes: threads started inside the block inherit them (Linux copies
the floating-point state to a new thread), threads that already exist keep theirs. So NumPy's
OpenBLAS workers, started when NumPy was imported, do not flush; they only meet subnormals if
weights or activations hold some, and the kernels, on this thread, never store them.

The modes are set through the C library's `fegetenv`/`fesetenv` (glibc's `fenv_t` holds
MXCSR, or FPCR, in full), read back and checked, so a platform where that does not work
(another C library, another CPU) gets `Unchanged` and says so in `barenet --version`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

# glibc's fenv_t: (size in bytes, offset of the control register, the bits that flush subnormals)
LAYOUTS = {
    "x86_64": (32, 28, 0x8040),   # MXCSR at the end of the x87 environment: FTZ (bit 15) | DAZ (bit 6)
    "aarch64": (8, 0, 1 << 24),  # FPCR first: FZ (bit 24) flushes inputs and results alike
}


class Unchanged:
    """The caller's floating-point modes, untouched (platforms where they cannot be set)."""

    name = "unchanged"

    @contextmanager
    def __call__(self) -> Iterator[None]:
        yield


class FlushToZero:
    """`with policy():` runs the block with subnormal inputs read as 0 and subnormal results written as 0,
    on the calling thread, and restores that thread's modes on exit (also after an exception)."""

    name = "flushed to zero"

    def __init__(self, libm: ctypes.CDLL, size: int, offset: int, bits: int):
        self.libm, self.size, self.offset, self.bits = libm, size, offset, bits

    @contextmanager
    def __call__(self) -> Iterator[None]:
        saved = (ctypes.c_uint8 * self.size)()
        self.libm.fegetenv(saved)
        flushing = (ctypes.c_uint8 * self.size).from_buffer_copy(saved)
        register = ctypes.c_uint32.from_buffer(flushing, self.offset)
        register.value |= self.bits
        self.libm.fesetenv(flushing)
        try:
            yield
        finally:
            self.libm.fesetenv(saved)

    def register(self) -> int:
        """The current thread's control register (MXCSR or FPCR), for checks."""
        env = (ctypes.c_uint8 * self.size)()
        self.libm.fegetenv(env)
        return ctypes.c_uint32.from_buffer(env, self.offset).value


def policy() -> FlushToZero | Unchanged:
    """FlushToZero where this platform's C library can set the modes (checked by flushing a subnormal
    product), Unchanged elsewhere."""
    layout = LAYOUTS.get(platform.machine().lower())
    name = ctypes.util.find_library("m")
    if layout is None or not sys.platform.startswith("linux") or name is None:
        return Unchanged()
    try:
        flush = FlushToZero(ctypes.CDLL(name), *layout)
        before = flush.register()
        with flush():
            flushed = float(np.float32(np.finfo(np.float32).tiny) * np.float32(0.5)) == 0.0
        restored = flush.register() == before
    except (OSError, AttributeError):
        return Unchanged()
    return flush if flushed and restored else Unchanged()
