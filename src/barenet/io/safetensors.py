"""safetensors files: named arrays plus string metadata, read and written without unpickling anything.

Model files, checkpoints and PyTorch state dicts all go through these two functions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .files import PathLike, atomic_write


def write_safetensors(path: PathLike, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> Path:
    """Write `tensors` (name -> array) and `metadata` to `path` atomically."""
    from safetensors.numpy import save_file

    arrays = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    return atomic_write(path, lambda temp: save_file(arrays, temp, metadata=metadata))


def read_safetensors(path: PathLike, missing: str, fix: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata) of any safetensors file.

    ModelFileError: "no <missing>" when the file is absent, "PATH is not a readable safetensors
    file (...): <fix>" when it is corrupt.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no {missing}")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors has its own error types (also for bfloat16 tensors)
        raise ModelFileError(f"{path} is not a readable safetensors file ({exc}): {fix}") from None
    return tensors, metadata
