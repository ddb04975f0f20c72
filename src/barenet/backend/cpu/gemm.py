"""The CPU's matrix products: NumPy's BLAS (OpenBLAS in NumPy's wheels) or MKL, chosen per machine.

    BARENET_GEMM=auto    (the default) MKL when it is installed and measured faster here, else NumPy
    BARENET_GEMM=numpy   NumPy's BLAS
    BARENET_GEMM=mkl     MKL (`pip install "barenet[mkl]"`); an error naming the fix when it is not installed

"auto" measures once per machine: the GEMMs of a training step of [784,1024,1024,10] and of
[784,128,64,10] at batch 128, each provider in a fresh process of its own (two BLAS thread
pools in one process spin against each other), best of several rounds; MKL is chosen only
when it is clearly faster (MARGIN). The answer is cached in barenet's cache folder, keyed by
the CPU, the libraries' versions and the thread count, so later runs read one small file.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import BarenetError, ConfigError
from ...io.cache import cache_root
from ...io.files import write_json
from . import mkl
from .mkl import blas_threads

ENVIRONMENT = "BARENET_GEMM"
CHOICES = ("auto", "numpy", "mkl")
MKL_EXTRA = 'pip install "barenet[mkl]"'
MARGIN = 1.08  # MKL must be this much faster to be chosen over NumPy's BLAS (the default)
PROBE_SHAPES = [(128, 784, 1024), (784, 128, 1024), (128, 1024, 1024), (1024, 128, 1024), (128, 1024, 1024),
                (128, 784, 128), (784, 128, 128), (128, 128, 64), (128, 64, 128)]  # (m, k, n) per GEMM


class NumpyGemm:
    """Matrix products by `numpy.matmul` (NumPy's BLAS)."""

    name = "numpy"

    def __init__(self):
        self.matmul: Callable[..., Any] = np.matmul  # NumPy's own function: no Python layer in between

    def threads(self, count: int | None) -> contextlib.AbstractContextManager:
        """At most `count` threads inside the block (None: as many as the library uses)."""
        return blas_threads(count)

    def describe(self) -> str:
        return f"numpy ({blas_name()})"


def blas_name(threads: bool = True) -> str:
    """NumPy's BLAS as threadpoolctl sees it: "OpenBLAS 0.3.31, Haswell kernel, 2 threads" (the live thread count,
    which a threadpool_limits block changes, only with `threads`)."""
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        if pool.get("user_api") == "blas" and "numpy" in str(pool.get("filepath", "")):
            library = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}.get(pool["internal_api"],
                                                                                pool["internal_api"])
            kernel = f", {pool['architecture']} kernel" if pool.get("architecture") else ""
            count = f", {pool['num_threads']} threads" if threads else ""
            return f"{library} {pool.get('version') or ''}{kernel}{count}"
    return "BLAS unknown"


def requested() -> str:
    """The provider the environment asks for ("auto" unless BARENET_GEMM says otherwise), checked."""
    choice = os.environ.get(ENVIRONMENT, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ConfigError(f"{ENVIRONMENT}={choice!r} is not a GEMM provider: use auto, numpy or mkl")
    return choice


@functools.cache
def provider(choice: str) -> NumpyGemm | mkl.MklGemm:
    """The provider for "numpy", "mkl" or "auto" (one object per choice and process)."""
    if choice not in CHOICES:
        raise ConfigError(f"unknown GEMM provider {choice!r}: use auto, numpy or mkl ({ENVIRONMENT}=...)")
    if choice == "numpy":
        return NumpyGemm()
    path = mkl.library_path()  # the installed wheel's files, looked up only when MKL may be chosen
    if choice == "mkl" and path is None:
        raise ConfigError(f"{ENVIRONMENT}=mkl but MKL is not installed: {MKL_EXTRA}, or use {ENVIRONMENT}=numpy")
    if path is None:
        return NumpyGemm()
    if choice == "auto" and measured_choice(path) != "mkl":
        return NumpyGemm()
    return mkl.MklGemm(path)


def measured_choice(path: Path) -> str:
    """"mkl" or "numpy" for this machine: cached, or measured once and cached."""
    key = machine_key(path)
    cache = cache_root() / "gemm.json"
    entry = _read_cache(cache).get(key)
    if isinstance(entry, dict) and entry.get("choice") in ("numpy", "mkl"):
        return entry["choice"]
    seconds = {name: _measure_in_subprocess(name) for name in ("numpy", "mkl")}
    choice = "mkl" if seconds["numpy"] > MARGIN * seconds["mkl"] else "numpy"
    entry = {"choice": choice, "seconds": seconds, "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
             "by": " ".join(sys.argv[:2])[:200]}
    with contextlib.suppress(OSError, BarenetError):  # an unwritable cache only means measuring again next time
        write_json(cache, {**_read_cache(cache), key: entry})  # read again: another process may have written
    return choice


def _read_cache(cache: Path) -> dict:
    """The cached choices by machine key ({} when the file is missing or unreadable)."""
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def machine_key(path: Path) -> str:
    """What the measurement depends on: the CPU, NumPy's BLAS, MKL's library and the thread settings."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    threads = [os.environ.get(name, "") for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")]
    parts = [cpu, str(os.cpu_count()), *threads, np.__version__, blas_name(threads=False), str(path),
             str(path.stat().st_size)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _measure_in_subprocess(name: str) -> float:
    """Seconds per probe round for provider `name`, measured in a fresh Python process (inf on failure)."""
    script = f"from barenet.backend.cpu import gemm; print(gemm.probe({name!r}))"
    env = {**os.environ, ENVIRONMENT: name}
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env,
                              check=True)
        return float(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return float("inf")


def probe(name: str, rounds: int = 7) -> float:
    """The best of `rounds` timings of PROBE_SHAPES' GEMMs (float32) through provider `name`, in seconds."""
    gemm: NumpyGemm | mkl.MklGemm = provider(name)
    rng = np.random.default_rng(0)
    operands = [(rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32),
                 np.empty((m, n), dtype=np.float32)) for m, k, n in PROBE_SHAPES]
    best = float("inf")
    for _ in range(rounds + 1):  # the first round warms up the thread pool
        start = time.perf_counter()
        for a, b, out in operands:
            gemm.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return best
