"""Reading files users name, safely: regular files only, sizes bounded, types by magic bytes.

    read_regular(path, limit)    the bytes of a regular file of at most `limit` bytes (a FIFO,
                                 a device or a folder is refused before it is opened, so nothing hangs)
    gunzip(raw, limit)           gzip decompressed by magic number, stopping at `limit` bytes (no bombs)
    sniff(head)                  "gzip", "npy", "zip", "png", "jpeg", ..., "idx", "pickle" or "text"

Every problem is one line naming the path (DataError unless the caller picks another error).
"""

from __future__ import annotations

import os
import stat
import zlib
from pathlib import Path

from ..errors import BarenetError, DataError

MAX_FILE_BYTES = 1 << 30        # 1 GiB read from disk
MAX_DECOMPRESSED_BYTES = 1 << 27  # 128 MiB out of a gzip stream (MNIST's largest file is 47 MB)
CHUNK = 1 << 24

MAGIC = [  # (prefix, kind); IDX and text are decided by the rules in `sniff`
    (b"\x1f\x8b", "gzip"), (b"\x93NUMPY", "npy"), (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"),
    (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
    (b"BM", "bmp"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"\x80", "pickle"),
]
IMAGE_KINDS = ("png", "jpeg", "gif", "bmp", "tiff", "webp")


def check_regular(path, what: str = "file", error: type[BarenetError] = DataError) -> os.stat_result:
    """stat() of `path`, which must exist and be a regular file (not a FIFO, socket, device or folder)."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"no {what} at {path}: check the path") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{path} is a folder, not a file: give the path of a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path} is not a regular file (a pipe, socket or device): give a file on disk")
    return info


def read_regular(path, limit: int = MAX_FILE_BYTES, what: str = "file",
                 error: type[BarenetError] = DataError) -> bytes:
    """The bytes of the regular file `path`, refused when larger than `limit` (checked before reading)."""
    info = check_regular(path, what, error)
    if info.st_size > limit:
        raise error(f"{path} is {info.st_size:,} bytes; a {what} may be at most {limit:,}: check the path")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:  # the file grew after stat()
        raise error(f"{path} is larger than {limit:,} bytes: check the path")
    return data


def gunzip(raw: bytes, source: str = "data", limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """`raw` decompressed when it starts with gzip's magic number (all members), else unchanged.

    Decompresses in 16 MB pieces and stops as soon as the output passes `limit` bytes, so a small
    bomb never expands in memory.
    """
    if raw[:2] != b"\x1f\x8b":
        return raw
    parts: list[bytes] = []
    total, rest = 0, raw
    try:
        while rest[:2] == b"\x1f\x8b":
            stream = zlib.decompressobj(wbits=31)
            pending = rest
            while pending and not stream.eof:
                chunk = stream.decompress(pending, CHUNK)
                total += len(chunk)
                if total > limit:
                    raise DataError(f"{source} decompresses to more than {limit:,} bytes: not a file barenet "
                                    f"reads (a gzip bomb?)")
                parts.append(chunk)
                pending = stream.unconsumed_tail
            if not stream.eof:
                raise zlib.error("the compressed stream ends early")
            rest = stream.unused_data
    except zlib.error as exc:
        raise DataError(f"{source} is a damaged gzip file ({exc}): delete it and download it again") from None
    return b"".join(parts)


def sniff(head: bytes) -> str:
    """The kind of a file from its first bytes (16 are enough); "text" when nothing binary matches."""
    for prefix, kind in MAGIC:
        if head.startswith(prefix):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if len(head) >= 4 and head[0] == 0 and head[1] == 0 and 1 <= head[3] <= 8:
        return "idx"
    plain = sum(32 <= byte < 127 or byte in b"\t\r\n" for byte in head)
    return "text" if b"\x00" not in head and plain >= 0.9 * len(head) else "binary"  # text: UTF-8 checked later
