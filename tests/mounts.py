"""Filesystems that refuse writes for real, for tests: a read-only mount and a full one (tmpfs).

Tests run as root here, and root ignores permission bits, so a `chmod 555` folder is no read-only
target. A read-only tmpfs refuses root too (EROFS), and a tmpfs of 64 KB filled to the last block
gives ENOSPC for every write as a full disk does. Both need mount(8) and the right to mount (root, or
CAP_SYS_ADMIN); without them the calling test is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

FULL_SIZE_KB = 64


def _mount(folder: Path, options: str) -> str | None:
    """Mount a tmpfs on `folder` with `options`; None when done, else why it could not be."""
    if shutil.which("mount") is None:
        return "mount(8) is not installed"
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                            text=True, check=False)
    return None if result.returncode == 0 else (result.stderr.strip() or f"mount exited {result.returncode}")


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def fill(folder: Path) -> None:
    """Write into `folder` until its filesystem has no block left."""
    try:
        with open(folder / "filler", "wb", buffering=0) as handle:
            while True:
                handle.write(bytes(4096))
    except OSError:  # ENOSPC: full
        pass


@contextlib.contextmanager
def tmpfs(folder: Path, readonly: bool = False, full: bool = False,
          size_kb: int = FULL_SIZE_KB) -> Iterator[tuple[Path | None, str]]:
    """(the mounted folder, "") or (None, why not); unmounted on exit. `readonly`: writes fail with EROFS;
    `full`: the tmpfs filled up, writes fail with ENOSPC (creating an empty file or folder still works)."""
    why = _mount(folder, f"size={size_kb}k" + (",ro" if readonly else ""))
    if why is not None:
        yield None, f"cannot mount a tmpfs ({why}): a {'read-only' if readonly else 'full'} filesystem needs root"
        return
    try:
        if full:
            fill(folder)
        yield folder, ""
    finally:
        _unmount(folder)


def need(mounted: tuple[Path | None, str]) -> Path:
    """The mounted folder, or skip the test saying why there is none."""
    folder, why = mounted
    if folder is None:
        pytest.skip(why)
    return folder
