from collections import Counter

import numpy as np
import pytest

from helpers import data_file, mnist_dir, skip_reason

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(params=["fused", "numpy"])
def kernel_set(request, monkeypatch):
    """Run the test once on the fused (numba) kernels and once on the NumPy reference: the CPU backend that
    layers, losses and optimizers made inside the test take (`get_backend("cpu")`) carries that set."""
    monkeypatch.setenv("BARENET_KERNELS", request.param)
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


@pytest.fixture(scope="session")
def mnist_model_file(mnist, tmp_path_factory):
    """A [784,128,64,10] ReLU network trained 2 epochs on real MNIST (~96% test accuracy, a few seconds),
    saved with the metadata `barenet train` writes."""
    import barenet as bn

    x_train, y_train, x_test, y_test = mnist
    model = bn.MLP([784, 128, 64, 10], seed=0)
    model.compile(loss="softmax_cross_entropy", optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
    model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=0)
    path = tmp_path_factory.mktemp("trained") / "mnist-mlp.safetensors"
    model.save(path, extra={"name": "mnist-mlp (2 epochs)", "dataset": "mnist", "classes": [str(i) for i in range(10)],
                            "input": {"scale": "unit"}, "image_shape": [28, 28],
                            "test_accuracy": model.evaluate(x_test, y_test)["accuracy"]})
    return path


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
