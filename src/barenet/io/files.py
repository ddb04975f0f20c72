"""Writing files so that no reader ever sees half of one, and refusing to write over what a user keeps.

Every writer in barenet goes through `atomic_write` (a temp file in the same folder,
flushed to disk, then renamed), and every command that writes to a path the user
named checks it first with `check_output_dir` or `check_output_file`.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError

PathLike = str | os.PathLike


def atomic_write(path: PathLike, write: Callable[[str], object]) -> Path:
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


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    return atomic_write(path, lambda temp: Path(temp).write_bytes(data))


def write_text(path: PathLike, text: str) -> Path:
    """Write `text` as UTF-8 to `path` atomically."""
    return atomic_write(path, lambda temp: Path(temp).write_text(text, encoding="utf-8"))


def write_json(path: PathLike, document: dict) -> Path:
    """Write `document` as indented JSON to `path` atomically."""
    return write_text(path, json.dumps(document, indent=2, sort_keys=False) + "\n")


def check_output_dir(path: PathLike, force: bool, option: str = "--out") -> Path:
    """`path` as a folder barenet may write into: absent, empty, or non-empty with `force`.

    ConfigError (one line, naming `option`) for a file, or for a non-empty folder without `force`.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path} is a file: give a folder path")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise ConfigError(f"{option} {path} exists and is not empty: choose another folder or add --force to "
                          f"overwrite")
    return path


def check_output_file(path: PathLike, force: bool) -> Path:
    """`path` as a file barenet may write: absent, or existing with `force`; never a folder."""
    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists: choose another output path or add --force to overwrite it")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder: give a file path such as model.safetensors")
    return path
