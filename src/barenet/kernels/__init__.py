"""Kernels: the element-wise work of a training step, each written twice.

A step's matrix products go to BLAS. Everything between them (bias add and
activation, the activation's derivative and the bias gradient, the softmax
cross-entropy gradient, dropout, the optimizer update, turning a uint8 batch into
floats) is element-wise work that NumPy does as one pass over memory per
operation, on one thread. Each such operation is written here twice, side by side
in the module named for its concept:

    name(...)         the reference, in plain NumPy: where the maths is read
    name_fused(...)   the same maths as explicit loops, compiled by numba into
                      one pass over memory; must equal the reference (float32 to
                      rounding, float64 to 1e-12), which the tests check

Callers never choose: they call `kernels.on(array).name(...)`, which is `ops`, the
active CPU set, for NumPy arrays and the CUDA set (`cuda()`, `kernels/gpu.py`) for
CuPy arrays, so a model's device picks its kernels. The fused set is the default when numba is installed (it is a
dependency); `BARENET_KERNELS=numpy` or `kernels.use("numpy")` selects the
reference. The fused loops compile on first use and are cached on disk
(numba's `cache=True`), so only the first run after an install pays for it.

    from barenet import kernels
    kernels.use("numpy")            # the readable path, e.g. to step through it
    with kernels.using("fused"):    # a block of code on the fused path
        ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import numpy

from ..errors import ConfigError, warn
from . import activations, batches, dropout, losses, products, updates, warps

MODULES = (activations, batches, dropout, losses, products, updates, warps)
CHOICES = ("fused", "numpy")
ENVIRONMENT = "BARENET_KERNELS"

ops: SimpleNamespace  # the active set, bound by `use` (on first access: see __getattr__)
active: str           # its name: "fused" or "numpy"
_compiled: SimpleNamespace | None = None
_cuda: Any = None


def reference() -> SimpleNamespace:
    """The NumPy implementations, by name."""
    return SimpleNamespace(**{name: pair[0] for module in MODULES for name, pair in module.KERNELS.items()})


def fused() -> SimpleNamespace:
    """The numba-compiled implementations, by name (compiled lazily, on first call of each)."""
    global _compiled
    if _compiled is None:
        import numba  # imported here: `barenet --help` and the NumPy path never pay for it

        jit = numba.njit(cache=True, nogil=True, error_model="numpy")
        _compiled = SimpleNamespace(**{name: jit(pair[1]) for module in MODULES
                                       for name, pair in module.KERNELS.items()})
    return _compiled


def cuda() -> Any:
    """The CUDA implementations for CuPy arrays (`kernels/gpu.py`); needs cupy and a GPU."""
    global _cuda
    if _cuda is None:
        try:
            from . import gpu

            _cuda = gpu.kernel_set()
        except ImportError as exc:
            raise ConfigError(f"the CUDA kernels need CuPy: pip install \"barenet[gpu]\" ({exc})") from exc
    return _cuda


def on(array) -> Any:
    """The kernel set for arrays like `array`: the active CPU set (`ops`) for NumPy arrays, `cuda()` for CuPy ones."""
    if isinstance(array, numpy.ndarray):
        try:  # called several times a step: the bound set, without a second function call
            return ops
        except NameError:  # not bound yet (bound on first use, so importing barenet never imports numba)
            use(requested())
            return ops
    return cuda()


def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def use(name: str) -> str:
    """Make `name` ("fused" or "numpy") the active kernel set; returns the previous one's name."""
    global ops, active
    if name not in CHOICES:
        raise ConfigError(f"unknown kernels {name!r}: use 'fused' or 'numpy' (e.g. {ENVIRONMENT}=numpy)")
    previous = globals().get("active", "")
    if name == "fused" and not numba_available():
        warn("numba is not installed, so barenet runs its NumPy reference kernels (slower): "
             "pip install numba")
        name = "numpy"
    ops, active = (fused() if name == "fused" else reference()), name
    return previous


@contextmanager
def using(name: str) -> Iterator[SimpleNamespace]:
    """Run a block with the kernel set `name` active, then restore the previous one."""
    previous = use(name)
    try:
        yield ops
    finally:
        use(previous or requested())


def requested() -> str:
    """The kernel set the environment asks for ("fused" unless BARENET_KERNELS says otherwise), checked."""
    choice = os.environ.get(ENVIRONMENT, "fused").strip().lower() or "fused"
    choice = "numpy" if choice == "reference" else choice
    if choice not in CHOICES:
        raise ConfigError(f"{ENVIRONMENT}={choice!r} is not a kernel set: use 'fused' or 'numpy'")
    return choice


def __getattr__(name: str):
    """`ops` and `active` are bound on first access, so importing barenet never imports numba."""
    if name in ("ops", "active"):
        use(requested())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
