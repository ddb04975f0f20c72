"""Shared test helpers: finite differences and where the real datasets are.

Real data is found the way barenet finds it (`barenet.data.fetch.search_local`, which
verifies every file by SHA-256): `$BARENET_TEST_DATA` (a folder holding the IDX files,
or its parent holding `mnist/` and `fashion-mnist/`), `../shared/data` beside the
repository, then barenet's own places: `$BARENET_DATA_DIR`, the user cache (where
`barenet train` and `barenet data download` put MNIST) and the system folders. Nothing
is downloaded. A test that needs a dataset is marked `slow` and skipped, with the
places tried, when the dataset is absent (`needs("fashion-mnist")`).
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BESIDE_REPO = REPO.parent / "shared" / "data"
TEST_DATA_VAR = "BARENET_TEST_DATA"


def _given_folder() -> Path | None:
    """The folder tests search first: $BARENET_TEST_DATA, else ../shared/data when it exists."""
    given = os.environ.get(TEST_DATA_VAR)
    if given:
        return Path(given).expanduser()
    return BESIDE_REPO if BESIDE_REPO.is_dir() else None


@functools.cache
def locate(name: str = "mnist") -> tuple[dict[str, Path], str]:
    """({file name: verified path}, what was tried) for dataset `name`; the dict is empty when incomplete."""
    from barenet.data import catalog, fetch

    info = catalog.get(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a rejected file shows up in `tried`
        found = fetch.search_local(info, _given_folder())
    tried = "; ".join(line for line in found.tried if "not given" not in line and "not set" not in line)
    if len(found.sources) < len(info.files):
        return {}, tried
    return {key: Path(path) for key, path in found.sources.items()}, tried


def data_folder(name: str = "mnist") -> Path | None:
    """A folder holding all four verified IDX files of `name` (pass it as data_dir), or None."""
    sources, _ = locate(name)
    folders = {path.parent for path in sources.values()}
    return folders.pop() if len(folders) == 1 else None


def mnist_dir() -> Path | None:
    """The folder holding real MNIST, or None."""
    return data_folder("mnist")


def data_file(name: str, file: str) -> Path:
    """The verified path of one IDX file (e.g. "t10k-images-idx3-ubyte") of dataset `name`; it must be present."""
    return locate(name)[0][file]


def skip_reason(name: str = "mnist") -> str:
    """Why a test of `name` is skipped: the places searched and the fix."""
    fix = ("barenet data download (or barenet train)" if name == "mnist"
           else f"barenet data download --dataset {name} (or apt-get install dataset-{name})")
    return f"real {name} not found (searched {locate(name)[1]}): run {fix}, or set {TEST_DATA_VAR}=DIR"


def needs(name: str = "mnist") -> list:
    """Marks for a test that reads real dataset `name`: slow, and skipped (saying why) when it is absent."""
    return [pytest.mark.slow, pytest.mark.skipif(data_folder(name) is None, reason=skip_reason(name))]


def with_data(name: str = "mnist"):
    """`needs(name)` as one decorator for a single test."""
    def decorate(test):
        for mark in needs(name):
            test = mark(test)
        return test
    return decorate


def numeric_gradient(f, array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of scalar f() with respect to `array`, perturbed in place."""
    grad = np.zeros_like(array, dtype=np.float64)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        up = f()
        flat[i] = saved - eps
        down = f()
        flat[i] = saved
        gflat[i] = (up - down) / (2 * eps)
    return grad


# How closely a fast kernel (fused or CUDA) must equal the NumPy reference: float32 to a few ulps of O(1) values.
KERNEL_TOLERANCE = {np.float32: {"rtol": 4e-6, "atol": 2e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-14}}


def assert_kernel_close(reference, fast, dtype) -> None:
    """Each array of `fast` equals its twin in `reference`: booleans exactly, floats to KERNEL_TOLERANCE."""
    for want, got in zip(reference, fast):
        if want.dtype == bool:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, **KERNEL_TOLERANCE[dtype])


def relative_error(a, b) -> float:
    """||a - b|| / max(||a|| + ||b||, tiny): 0 for equal arrays, ~1 for unrelated ones."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-30))


def cupy_with_a_device():
    """CuPy, for the CUDA test modules; skips the calling module (with the reason) without CuPy or a GPU."""
    cp = pytest.importorskip("cupy", reason="CuPy is not installed (pip install \"barenet[gpu]\")")
    try:
        devices = cp.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 (no driver: CuPy raises its own runtime error)
        devices = 0
    if devices == 0:
        pytest.skip("no CUDA device", allow_module_level=True)
    return cp


def run_dataset(x: np.ndarray, y: np.ndarray):
    """A stand-in for a run's dataset: flat uint8 images (N, 784) as 28x28, split 400 train, 100 validation,
    the rest test (monkeypatch it over `barenet.runs.prepared.load_data` with `lambda config: ...`)."""
    from barenet.data.loader import Dataset, Split

    images = x.reshape(-1, 28, 28)
    return Dataset("synthetic", [str(i) for i in range(10)], Split(images[:400], y[:400]),
                   Split(images[400:500], y[400:500]), Split(images[500:], y[500:]))


def stop_after_first_epoch():
    """A callback that interrupts a run once its first checkpoint is on disk, as a lost GPU lease would."""
    from barenet.training.callbacks import Callback

    class StopAfterFirstEpoch(Callback):
        def on_epoch_end(self, epoch, logs):
            raise KeyboardInterrupt

    return StopAfterFirstEpoch()


def wrong_relu():
    """A ReLU layer class as a notebook wrote it: its derivative is x > 1 instead of x > 0 (the training doctor's
    gradient check must find it)."""
    from barenet.nn.layers import ReLU

    class WrongReLU(ReLU):
        def forward(self, x, training=False):
            self.saved = x.copy()
            return super().forward(x, training)

        def backward(self, grad_out):
            return grad_out * (self.saved > 1)

    return WrongReLU
