"""Find, verify, download and cache dataset files.

Lookup order for each file: the `data_dir` argument, `$BARENET_DATA_DIR`, the user
cache (`$XDG_CACHE_HOME/barenet` or `~/.cache/barenet`), system data folders, and
only then the mirrors, in order. A folder may hold the files directly or in a
subfolder named after the dataset, raw or `.gz`. Every file is checked by the
SHA-256 of its uncompressed bytes; one that fails is never used, and a corrupt
cache entry is moved aside (`*.corrupt`) and fetched again.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError, warn
from ..io.cache import cache_root
from ..io.files import atomic_write_bytes
from ..io.readers import gunzip, read_regular
from . import catalog
from .catalog import sha256
from .formats import one_line
from .mirrors import FETCHERS

ENV_VAR = "BARENET_DATA_DIR"


class ChecksumError(DataError):
    """A file whose uncompressed bytes do not hash to the published SHA-256."""


@dataclass
class Place:
    """A folder searched for dataset files, and why it is searched ('data_dir', 'cache', ...)."""

    label: str
    path: Path | None
    note: str = ""

    def describe(self) -> str:
        return f"{self.label} {self.path}" if self.path else f"{self.label} ({self.note})"


@dataclass
class Found:
    """The uncompressed, verified bytes of each file and where each was read from."""

    data: dict[str, bytes] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    tried: list[str] = field(default_factory=list)


def cache_dir(info: catalog.DatasetInfo) -> Path:
    return cache_root() / info.name


def places(info: catalog.DatasetInfo, data_dir=None) -> list[Place]:
    """The folders searched, in order (a folder that is not configured is listed with a note)."""
    env = os.environ.get(ENV_VAR)
    found = [Place("data_dir", Path(data_dir).expanduser()) if data_dir else Place("data_dir", None, "not given"),
             Place(ENV_VAR, Path(env).expanduser()) if env else Place(ENV_VAR, None, "not set"),
             Place("cache", cache_dir(info))]
    found += [Place("system", Path(folder)) for folder in info.system_dirs]
    return found


def candidates(folder: Path, info: catalog.DatasetInfo, name: str) -> list[Path]:
    """Paths under `folder` that may hold file `name`: flat or in a per-dataset subfolder, .gz or raw."""
    subdirs = [folder, folder / info.name]
    return [d / f"{name}{ext}" for d in subdirs for ext in (".gz", "")]


def verify(data: bytes, info: catalog.DatasetInfo, name: str, source: str) -> bytes:
    """`data` unchanged when its SHA-256 is the published one for `name`; DataError otherwise."""
    actual, expected = sha256(data), info.sha256[name]
    if actual != expected:
        raise ChecksumError(f"{source} failed its checksum: sha256 of the uncompressed {name} should be {expected} "
                        f"but is {actual}; delete the file and download {info.name} again (barenet data download)")
    return data


def read_verified(path: Path, info: catalog.DatasetInfo, name: str) -> bytes:
    """The verified, uncompressed bytes of `path`; DataError when unreadable, damaged or wrong."""
    raw = read_regular(path, what="dataset file")  # a FIFO or folder is refused, not waited on
    return verify(gunzip(raw, str(path)), info, name, str(path))


def move_aside(path: Path) -> Path | None:
    """Rename a corrupt cache entry to `<name>.corrupt` so it is kept for inspection but never used."""
    target = path.with_name(path.name + ".corrupt")
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target


def search_local(info: catalog.DatasetInfo, data_dir=None, names: tuple[str, ...] | None = None) -> Found:
    """Every file (of `names`, default all) that a local folder holds with the right checksum (no network)."""
    found, wanted = Found(), names or info.files
    for place in places(info, data_dir):
        if place.path is None:
            found.tried.append(place.describe())
        elif len(found.data) == len(wanted):
            found.tried.append(f"{place.describe()}: not needed")
        elif not place.path.is_dir():
            found.tried.append(f"{place.describe()}: no such folder")
        else:
            _search_place(place, info, found, wanted)
    return found


def _search_place(place: Place, info: catalog.DatasetInfo, found: Found, wanted: tuple[str, ...]) -> None:
    assert place.path is not None  # search_local passes only configured places
    problems: list[str] = []
    for name in wanted:
        if name in found.data:
            continue
        for path in candidates(place.path, info, name):
            if not path.is_file():
                continue
            try:
                found.data[name] = read_verified(path, info, name)
            except DataError as exc:
                problems.append(_rejected(place, path, exc))
                continue
            found.sources[name] = str(path)
            break
    here = [n for n in wanted if found.sources.get(n, "").startswith(str(place.path))]
    status = problems + ([f"found {len(here)} of {len(wanted)}"] if here else [] if problems else ["no files"])
    found.tried.append(f"{place.describe()}: {'; '.join(status)}")


def _rejected(place: Place, path: Path, exc: DataError) -> str:
    if place.label == "cache":
        moved = move_aside(path)
        note = f"moved aside to {moved.name}" if moved else "could not be moved aside"
        warn(f"{exc} ({note})")
        return f"{path.name} corrupt, {note}"
    warn(f"{exc}; barenet keeps looking elsewhere")
    reason = "checksum mismatch" if isinstance(exc, ChecksumError) else one_line(exc)
    return f"{path.name} rejected ({reason})"


def store(info: catalog.DatasetInfo, name: str, data: bytes, original_gz: bytes | None = None) -> Path:
    """Write verified bytes into the cache as `<name>.gz` (atomically) and return the path."""
    import gzip

    payload = original_gz if original_gz is not None else gzip.compress(data, compresslevel=6, mtime=0)
    target = cache_dir(info) / f"{name}.gz"
    try:
        return atomic_write_bytes(target, payload)
    except OSError as exc:
        raise DataError(f"cannot write {target} ({exc.strerror or one_line(exc)}): make the cache writable, "
                        f"set XDG_CACHE_HOME to a writable folder, or pass --data-dir") from None


def download(info: catalog.DatasetInfo, found: Found, mirrors=None, names: tuple[str, ...] | None = None) -> None:
    """Fetch the files (of `names`, default all) `found` lacks from the mirrors, in order, verify them and
    store them in the cache.

    A mirror that fails (network error, damaged or wrong file) does not stop the next one.
    """
    chosen = catalog.MIRRORS.get(info.name, []) if mirrors is None else mirrors
    if not chosen:
        found.tried.append("mirrors: none known for this dataset")
    else:  # a first run can take a while: say what is happening, on stderr
        print(f"barenet: {info.name} not found locally; downloading it into {cache_dir(info)} "
              f"(once; verified by SHA-256)", file=sys.stderr, flush=True)
    for mirror in chosen:
        missing = [n for n in names or info.files if n not in found.data]
        if not missing:
            return
        try:
            fetched, problems = fetch_from(mirror, info, missing)
        except DataError as exc:
            found.tried.append(f"mirror {mirror.describe()}: {exc}")
            continue
        _accept(info, mirror, fetched, problems, found)


def _accept(info, mirror, fetched: dict[str, tuple[bytes, bytes | None]], problems: list[str], found: Found) -> None:
    accepted = []
    for name, (data, original_gz) in fetched.items():
        try:
            verify(data, info, name, f"{name} from {mirror.describe()}")
        except DataError as exc:
            problems.append(str(exc))
            continue
        found.data[name] = data
        found.sources[name] = str(store(info, name, data, original_gz))
        accepted.append(name)
    found.tried.append(f"mirror {mirror.describe()}: {'; '.join(problems) or 'ok'}")
    if accepted:  # say which mirror the files came from
        print(f"barenet: {info.name} {', '.join(accepted)} from {mirror.describe()}, verified",
              file=sys.stderr, flush=True)


def fetch_from(mirror, info: catalog.DatasetInfo, names: list[str]):
    """({name: (uncompressed bytes, original gzip bytes or None)}, [problems]) from one mirror.

    Raises DataError when the mirror gave nothing at all.
    """
    return FETCHERS[mirror.kind](mirror, info, names)
