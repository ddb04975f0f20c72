"""Notebooks run as tests with nbmake (`pytest --nbmake examples`; CI does): each is a slow test, on a
small budget (BARENET_QUICK=1), with MNIST found where the tests find it; skipped when it is absent."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import mnist_dir, skip_reason  # noqa: E402

NEEDS_TORCH = ("03-barenet-and-pytorch.ipynb",)


def _is_notebook(item) -> bool:
    return str(item.path).endswith(".ipynb")


def pytest_collection_modifyitems(items):
    for item in items:
        if not _is_notebook(item):
            continue
        item.add_marker(pytest.mark.slow)
        if mnist_dir() is None:
            item.add_marker(pytest.mark.skip(reason=skip_reason("mnist")))
        elif item.path.name in NEEDS_TORCH and not _has_torch():
            item.add_marker(pytest.mark.skip(reason="PyTorch is not installed (pip install -e '.[torch]')"))


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def pytest_runtest_setup(item):
    """The notebook's kernel inherits these: a small budget and the data folder."""
    if _is_notebook(item) and mnist_dir() is not None:
        item.saved_env = {key: os.environ.get(key) for key in ("BARENET_QUICK", "BARENET_DATA_DIR")}
        os.environ["BARENET_QUICK"] = "1"
        os.environ["BARENET_DATA_DIR"] = str(mnist_dir())


def pytest_runtest_teardown(item):
    for key, value in getattr(item, "saved_env", {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
