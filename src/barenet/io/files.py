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

from ..errors import BarenetError, ConfigError, WriteError

PathLike = str | os.PathLike


def atomic_write(path: PathLike, write: Callable[[str], object]) -> Path:
    """Call `write(temp_path)`, flush it to disk, then rename it onto `path`.

    On any error the temp file is removed and `path` is left as it was. The file gets
    ordinary permissions (the umask applies), like a file written with open().
    """
    path = Path(path)
    make_dir(path.parent)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        write(str(temp))
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, BarenetError):
            raise write_error(path, exc) from None
        raise
    return path


def write_error(path: PathLike, exc: OSError) -> WriteError:
    """One line naming the path and the reason (disk full, permission denied, ...) and what to do."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return WriteError(f"cannot write {path}: {reason}; free some space, fix the permissions or choose another path")


def make_dir(path: PathLike) -> Path:
    """mkdir -p, with a one-line WriteError (a file in the way, no permission) instead of a traceback."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
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
    check_ancestors(path, option)
    if path.is_dir() and any(path.iterdir()) and not force:
        raise ConfigError(f"{option} {path} exists and is not empty: choose another folder or add --force to "
                          f"overwrite")
    return path


def check_ancestors(path: Path, option: str) -> None:
    """The nearest existing folder above `path` must be a folder barenet can write in."""
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: {parent} is a file, not a folder: choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: cannot write in {parent} (permission denied): choose another path")


def check_writable_file(path: PathLike, option: str) -> Path:
    """`path` as a file to (over)write: not a folder, in a folder that exists or can be made and written."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a folder: give a file path")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{option} {path}: permission denied: choose another path")
    check_ancestors(path, option)
    return path


def check_output_file(path: PathLike, force: bool) -> Path:
    """`path` as a file barenet may write: absent, or existing with `force`; never a folder."""
    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists: choose another output path or add --force to overwrite it")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder: give a file path such as model.safetensors")
    return path


def fresh_file(path: PathLike) -> Path:
    """`path`, or the first of NAME-2.EXT, NAME-3.EXT, ... that does not exist yet: where a default output name
    goes when the user named none, so that nothing is replaced and nothing is refused (run folders do the same)."""
    path, number = Path(path), 1
    candidate = path
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate
