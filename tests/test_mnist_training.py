"""Real MNIST training checks (slow): the accuracies the notebooks could not reach.

Each bound sits below the spread measured over seeds 0-3 (AMD EPYC, OpenBLAS, 2026-12-06), so that a seed's luck
cannot fail it and a broken engine (9.8%, 17%, ~90%) cannot pass it:
[784,128,64,10] momentum 0.9737-0.9784; 10 x 100 ReLU 0.9711-0.9742; per-sample 1 epoch 0.9507-0.9602.
"""

import numpy as np
import pytest

import barenet as bn

pytestmark = pytest.mark.slow


def test_three_layer_relu_sgd_momentum(mnist):
    x, y, xt, yt = mnist
    model = bn.MLP([784, 128, 64, 10], activation="relu", init="he", seed=0)
    model.compile(optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
    model.fit(x, y, epochs=10, batch_size=128)
    accuracy = model.evaluate(xt, yt)["accuracy"]
    print(f"[784,128,64,10] SGD momentum, 10 epochs: test accuracy {accuracy:.4f}")
    # 97.34-97.37% with the fused kernels (1 or 2 BLAS threads), 97.69% with the NumPy reference: the two differ by
    # rounding (relative weight difference 2e-7 after one epoch, 7e-6 after three) that a constant lr of 0.1 with
    # momentum 0.9 amplifies. The former bar of 97.5% sat inside that spread and failed on main; 97% still fails
    # any run that learns wrongly (the notebooks' failures sit at 9.8% and 17.7%).
    assert accuracy >= 0.97


def test_ten_hidden_layers_of_100_relu_units(mnist):
    x, y, xt, yt = mnist
    model = bn.MLP([784] + [100] * 10 + [10], activation="relu", init="he", seed=0)
    model.compile(optimizer=bn.optimizers.SGD(lr=0.05, momentum=0.9))
    model.fit(x, y, epochs=10, batch_size=128)
    accuracy = model.evaluate(xt, yt)["accuracy"]
    print(f"10 x 100 ReLU, 10 epochs: test accuracy {accuracy:.4f}")
    assert accuracy >= 0.965


def test_per_sample_sgd_one_epoch(mnist):
    x, y, xt, yt = mnist
    model = bn.MLP([784, 128, 64, 10], activation="relu", seed=0)
    model.compile(optimizer=bn.optimizers.SGD(lr=0.01))
    model.fit(x, y, epochs=1, batch_size=1)
    accuracy = model.evaluate(xt, yt)["accuracy"]
    print(f"per-sample SGD, 1 epoch: test accuracy {accuracy:.4f}")
    assert accuracy >= 0.94
    assert np.isfinite(model.evaluate(xt, yt)["loss"])
