"""Writing files so that no reader ever sees half of one: a temp file in the same folder, then rename."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def atomic_write(path, write: Callable[[str], object]) -> Path:
    """Call `write(temp_path)`, flush it to disk, then rename it onto `path`.

    On any error the temp file is removed and `path` is left as it was. The file gets
    ordinary permissions (the umask applies), like a file written with open().
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        write(str(temp))
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    return atomic_write(path, lambda temp: Path(temp).write_bytes(data))
