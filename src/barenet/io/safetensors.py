"""safetensors files: named arrays plus string metadata, read and written without unpickling anything.

Model files, checkpoints and PyTorch state dicts all go through these two functions. safetensors has no
checksum, so barenet adds one: every file it writes carries a SHA-256 of its tensors (names, dtypes, shapes
and bytes) under the metadata key `barenet_tensors_sha256`, and reading checks it, so a bit flipped on a
disk or in a copy is refused instead of predicting quietly wrong. Files without it (written by older
barenets or other tools) are read as before.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .files import PathLike, atomic_write
from .readers import check_regular

DIGEST_KEY = "barenet_tensors_sha256"


def write_safetensors(path: PathLike, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> Path:
    """Write `tensors` (name -> array) and `metadata` to `path` atomically."""
    from safetensors.numpy import save_file

    arrays = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    metadata = {**metadata, DIGEST_KEY: tensors_digest(arrays)}

    def write(temp: str) -> None:
        try:
            save_file(arrays, temp, metadata=metadata)
        except OSError:
            raise
        except Exception as exc:  # safetensors wraps I/O errors: "... os error 28" (disk full)
            found = re.search(r"os error (\d+)", str(exc))
            if found is None:
                raise
            number = int(found.group(1))
            raise OSError(number, os.strerror(number)) from None

    return atomic_write(path, write)


def read_safetensors(path: PathLike, missing: str, fix: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata) of any safetensors file.

    ModelFileError: "no <missing>" when the file is absent, "PATH is not a readable safetensors
    file (...): <fix>" when it is corrupt.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"no {missing}")
    check_regular(path, "safetensors file", ModelFileError)  # a FIFO would block, a folder fail oddly
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors has its own error types (also for bfloat16 tensors)
        raise ModelFileError(f"{path} is not a readable safetensors file ({exc}): {fix}") from None
    stored = metadata.pop(DIGEST_KEY, None)
    if stored is not None and stored != tensors_digest(tensors):
        raise ModelFileError(f"{path} is damaged: its tensors do not match the SHA-256 digest written with them "
                             f"(a bit flipped on disk, or a partial copy): {fix}")
    return tensors, metadata


def tensors_digest(tensors: dict[str, np.ndarray]) -> str:
    """SHA-256 (hex) of every tensor in name order: its name, dtype, shape, then its bytes (little-endian, C order)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        value = np.ascontiguousarray(tensors[name])
        value = value.astype(value.dtype.newbyteorder("<"), copy=False)
        digest.update(f"{name}\0{value.dtype.str}\0{list(value.shape)}\0".encode())
        digest.update(value.reshape(-1).view(np.uint8).data)
    return digest.hexdigest()
