import numpy as np
import pytest

from helpers import mnist_dir


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
    """Real MNIST as (x_train, y_train, x_test, y_test) uint8/int arrays, from ../shared/data."""
    from barenet.data import read_idx

    folder = mnist_dir()
    if folder is None:
        pytest.skip("real MNIST not found beside the repository (../shared/data/mnist)")
    return tuple(read_idx(folder / name) for name in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
