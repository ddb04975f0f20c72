"""barenet's cache folder: downloaded data sets, and what a machine measured once (the GEMM provider)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """`$XDG_CACHE_HOME/barenet`, or `~/.cache/barenet`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "barenet"
