from collections import Counter

import numpy as np
import pytest

from helpers import data_file, mnist_dir, skip_reason

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(params=["fused", "numpy"])
def kernel_set(request):
    """Run the test once on the fused (numba) kernels and once on the NumPy reference."""
    from barenet import kernels

    with kernels.using(request.param):
        yield request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST as (x_train, y_train, x_test, y_test) uint8/int arrays, found where barenet finds it."""
    from barenet.data import read_idx

    if mnist_dir() is None:
        pytest.skip(skip_reason("mnist"))
    return tuple(read_idx(data_file("mnist", name)) for name in IDX_FILES)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """A test that reads real MNIST (through the `mnist` fixture) is slow, like every real-data test."""
    for item in items:
        if "mnist" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter):
    """One line per reason tests were skipped, with how many, instead of one line per test module."""
    reasons: Counter = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    for reason, count in reasons.most_common():
        terminalreporter.write_line(f"skipped {count} test{'s' * (count != 1)}: {reason}", yellow=True)
