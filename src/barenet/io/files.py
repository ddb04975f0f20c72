"""Writing files so that no reader ever sees half of one, and refusing to write over what a user keeps.

Every writer in barenet goes through `atomic_write` (a temp file in the same folder,
flushed to disk, then renamed), and every command that writes to a path the user
named checks it first with `check_output_dir` or `check_output_file`.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from ..errors import BarenetError, ConfigError, WriteError
from .schema import printable

PathLike = str | os.PathLike
TEMP_NAME = re.compile(r"\..+\.[0-9]+\.[0-9a-f]{8}\.part")  # what `temp_path` names: .NAME.PID.HEX.part
FIXES = {  # what to do about a path the system refused, by errno
    errno.ENOSPC: "free some space or choose another path",
    errno.EDQUOT: "free some space or choose another path",
    errno.EACCES: "fix the permissions or choose another path",
    errno.EPERM: "fix the permissions or choose another path",
    errno.EROFS: "the filesystem is read-only: choose another path",
    errno.ENAMETOOLONG: "choose a shorter name",
}


def temp_path(path: Path) -> Path:
    """The temp file `atomic_write` writes before renaming it onto `path`: `.NAME.PID.HEX.part` beside it."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")


def is_temp_file(path: Path) -> bool:
    """True for a temp file of `atomic_write` (by its name alone): the only `.part` files barenet may delete."""
    return TEMP_NAME.fullmatch(path.name) is not None


def atomic_write(path: PathLike, write: Callable[[str], object]) -> Path:
    """Call `write(temp_path)`, flush it to disk, then rename it onto `path`.

    On any error the temp file is removed and `path` is left as it was. The file gets
    ordinary permissions (the umask applies), like a file written with open().
    """
    path = lookable(path, "cannot write", WriteError)
    if not path.name or path.is_dir():
        raise WriteError(f"cannot write {path}: it is a folder; give a file path")
    make_dir(path.parent)
    temp = temp_path(path)
    try:
        write(str(temp))
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException as exc:
        _remove_quietly(temp)  # on a read-only filesystem this fails too: the error to report is the write's
        if isinstance(exc, OSError) and not isinstance(exc, BarenetError):
            raise write_error(path, exc) from None
        raise
    return path


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def write_error(path: PathLike, exc: OSError) -> WriteError:
    """One line naming the path and the reason (disk full, permission denied, ...) and what to do."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return WriteError(f"cannot write {path}: {reason}; {FIXES.get(exc.errno or 0, 'choose another path')}")


def path_error(exc: OSError) -> str:
    """One line for an OSError about a path (`exc.filename`): the path, the system's reason and what to do."""
    fix = FIXES.get(exc.errno or 0, "check the path")
    return f"cannot use {printable(exc.filename, 120)}: {exc.strerror or exc}; {fix}"


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
    path = lookable(path, option)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path} is a file: give a folder path")
    check_ancestors(path, option)
    if path.is_dir() and any(path.iterdir()) and not force:
        raise ConfigError(f"{option} {path} exists and is not empty: choose another folder or add --force to "
                          f"overwrite")
    return path


def lookable(path: PathLike, option: str, error: type[BarenetError] = ConfigError) -> Path:
    """`path`, when the system can look it up (it need not exist); else a one-line `error` naming why:
    a name longer than the filesystem allows, a loop of symbolic links, a folder barenet may not search."""
    path = Path(path)
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as exc:
        fix = FIXES.get(exc.errno or 0, "choose another path")
        raise error(f"{option} {printable(path, 120)}: {exc.strerror or exc}; {fix}") from None
    return path


def check_ancestors(path: Path, option: str) -> None:
    """The nearest existing folder above `path` must be a folder barenet can write in."""
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: {parent} is a file, not a folder: choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: cannot write in {parent} (read-only or permission denied): choose "
                          f"another path")


def check_writable_file(path: PathLike, option: str) -> Path:
    """`path` as a file to (over)write: not a folder, in a folder that exists or can be made and written."""
    path = lookable(path, option)
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a folder: give a file path")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{option} {path}: permission denied: choose another path")
    check_ancestors(path, option)
    return path


def check_output_file(path: PathLike, force: bool) -> Path:
    """`path` as a file barenet may write: absent, or existing with `force`; never a folder."""
    path = lookable(path, "output")
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
