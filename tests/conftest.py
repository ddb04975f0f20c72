import fcntl
import os
from collections import Counter

import numpy as np
import pytest

from helpers import data_file, mnist_dir, skip_reason

BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def pytest_configure(config):
    """Under pytest-xdist (`pytest` runs one worker per core), each worker and the commands it starts use one BLAS
    thread: two workers whose BLAS threads each spin for two cores made some tests 50 times slower."""
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        from threadpoolctl import threadpool_limits

        for name in BLAS_VARIABLES:
            os.environ[name] = "1"
        config.blas_limit = threadpool_limits(limits=1)  # kept: the limit lasts while the object is referenced


def shared_file(tmp_path_factory, name: str, build) -> "os.PathLike":
    """`build(path)` run once for the whole session: under pytest-xdist the first worker to ask builds it, under a
    lock, in the base temporary folder every worker shares; the others wait, then reuse it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # pytest-of-USER/pytest-N/: the workers' folders are popen-gw0, popen-gw1 inside it
    path = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            build(path)
    return path

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

    def train(path):
        x_train, y_train, x_test, y_test = mnist
        model = bn.MLP([784, 128, 64, 10], seed=0)
        model.compile(loss="softmax_cross_entropy", optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
        model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=0)
        model.save(path, extra={"name": "mnist-mlp (2 epochs)", "dataset": "mnist",
                                "classes": [str(i) for i in range(10)], "input": {"scale": "unit"},
                                "image_shape": [28, 28], "test_accuracy": model.evaluate(x_test, y_test)["accuracy"]})

    return shared_file(tmp_path_factory, "mnist-mlp.safetensors", train)


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
