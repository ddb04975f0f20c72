"""Models on a GPU (device="cuda", CuPy): gradients, CPU agreement, torch parity, files.

Runs only where CuPy and an NVIDIA GPU are present; elsewhere every test skips, saying so.
Synthetic data only (the GPU machine has no MNIST). The same code paths run on the CPU
suite's fake device (tests/test_device.py), bit for bit against the CPU; here the
question is the real device's numbers:
  - float64 finite-difference gradient checks of whole networks on the device;
  - CPU and CUDA runs from the same seed (the same weights, shuffles and dropout masks,
    drawn on the host) agree to 1e-10 in float64 and to float32 rounding in float32;
  - PyTorch (on the CPU) follows a model training on the device, step for step;
  - a model trained on the device saves a file that loads on the CPU with its weights.
"""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet import backend
from barenet.nn import layers
from helpers import cupy_with_a_device, relative_error, run_dataset, stop_after_first_epoch

cp = cupy_with_a_device()


def synthetic(rows=640, features=784, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, rows)
    x = rng.integers(0, 120, (rows, features)).astype(np.uint8)
    x[np.arange(rows), y * (features // 10)] = 255
    return x, y


def device_gradient(f, param, eps=1e-6) -> np.ndarray:
    """Central differences of f() (a float or a device scalar) with respect to the device array `param`."""
    flat, grad = param.reshape(-1), np.zeros(param.size)
    for i in range(param.size):
        saved = float(flat[i])
        flat[i] = saved + eps
        up = float(f())
        flat[i] = saved - eps
        down = float(f())
        flat[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad.reshape(param.shape)


def check_on_device(model, x, y, loss):
    """Every parameter gradient of a float64 network on the GPU against central differences."""
    model.compile(loss=loss, optimizer="sgd")
    assert model.device == "cuda" and isinstance(model.flat_params, cp.ndarray)
    dropouts = [layer for layer in model.layers if isinstance(layer, layers.Dropout)]
    xd, yd = cp.asarray(x), cp.asarray(y)

    def fixed_masks():
        for i, layer in enumerate(dropouts):
            layer.build(np.random.default_rng(100 + i))  # keeps the layer's device

    def loss_value():
        fixed_masks()
        return model.loss.forward(model.forward_to_loss(xd), yd)

    fixed_masks()
    model.compute_gradients(xd, yd)
    params, grads = model.parameters()
    for i, (param, grad) in enumerate(zip(params, [cp.asnumpy(g) for g in grads])):
        err = relative_error(grad, device_gradient(loss_value, param))
        assert err < 1e-6, f"parameter {i} {param.shape}: relative error {err}"


@pytest.mark.parametrize("loss,output", [("softmax_cross_entropy", "softmax"), ("mse", "softmax"),
                                         ("sigmoid_binary_cross_entropy", "sigmoid"),
                                         ("categorical_cross_entropy", "softmax")])
def test_gradients_on_the_device(loss, output):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    model = bn.MLP([5, 6, 6, 3], activation=["tanh", "relu"], output=output, dropout=[0.0, 0.3],
                   dtype="float64", seed=2, device="cuda")
    check_on_device(model, x, y, loss)


def test_gradients_on_the_device_every_activation():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    model = bn.Sequential([layers.Dense(5, 6), layers.ReLU(), layers.Dense(6, 6), layers.LeakyReLU(0.1),
                           layers.Sigmoid(), layers.Dense(6, 4), layers.Tanh(), layers.Softmax(),
                           layers.Dense(4, 3)], dtype="float64", seed=4, device="cuda")
    check_on_device(model, x, y, "softmax_cross_entropy")


def run(device, dtype, epochs=2, rows=640, optimizer=None):
    x, y = synthetic(rows)
    model = bn.MLP([784, 64, 32, 10], dropout=0.2, input_dropout=0.1, seed=5, dtype=dtype, device=device)
    model.compile(optimizer=optimizer or bn.optimizers.SGD(lr=0.05, momentum=0.9))
    history = model.fit(x, y, epochs=epochs, batch_size=64, validation_split=0.2, verbose=0)
    return model, history


@pytest.mark.parametrize("optimizer", [None, {"name": "adam", "lr": 1e-3}])
def test_cpu_and_cuda_agree_to_1e_10_in_float64(optimizer):
    (cpu, h_cpu), (gpu, h_gpu) = run("cpu", "float64", optimizer=optimizer), run("cuda", "float64",
                                                                                   optimizer=optimizer)
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)
    np.testing.assert_allclose(h_gpu.history["loss"], h_cpu.history["loss"], rtol=1e-10)
    assert h_gpu.history["val_accuracy"] == h_cpu.history["val_accuracy"]


def test_cpu_and_cuda_agree_to_float32_rounding():
    """A few steps: float32 ReLU networks drift apart later (a rounding flips a pre-activation's sign)."""
    (cpu, h_cpu), (gpu, h_gpu) = run("cpu", "float32", epochs=1, rows=320), run("cuda", "float32", epochs=1,
                                                                                 rows=320)
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        assert relative_error(a, b) < 1e-5
    assert h_gpu.history["loss"][0] == pytest.approx(h_cpu.history["loss"][0], rel=1e-5)


def test_the_training_set_lives_on_the_device_and_answers_come_back_as_numpy():
    model, history = run("cuda", "float32", epochs=1)
    assert isinstance(model.flat_params, cp.ndarray) and isinstance(model.optimizer.state[0]["velocity"], cp.ndarray)
    x, y = synthetic(100, seed=1)
    assert isinstance(model.predict_proba(x), np.ndarray) and isinstance(model.predict(x), np.ndarray)
    scores = model.evaluate(x, y)
    assert type(scores["loss"]) is float and type(history.history["loss"][0]) is float


def test_saved_on_cuda_loads_on_the_cpu(tmp_path):
    model, _ = run("cuda", "float64", epochs=1)
    model.save(tmp_path / "m.safetensors", include_optimizer=True)
    on_cpu = bn.load(tmp_path / "m.safetensors")
    assert on_cpu.device == "cpu"
    for a, b in zip(model.get_weights(), on_cpu.get_weights()):
        np.testing.assert_array_equal(a, b)
    x, _ = synthetic(200, seed=3)
    np.testing.assert_allclose(on_cpu.predict_proba(x), model.predict_proba(x), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(on_cpu.predict(x), model.predict(x))
    back = bn.load(tmp_path / "m.safetensors", device="cuda")
    np.testing.assert_array_equal(back.predict(x), model.predict(x))


def test_torch_follows_a_model_training_on_the_device():
    parity = pytest.importorskip("barenet.pytorch.parity")
    pytest.importorskip("torch", reason="PyTorch is not installed")
    rng = np.random.default_rng(11)
    x = rng.normal(size=(96, 12))
    y = (x[:, :4] + 0.3 * rng.normal(size=(96, 4))).argmax(axis=1)
    model = bn.MLP([12, 16, 16, 4], dropout=0.3, seed=1, dtype="float64", device="cuda")
    model.compile(optimizer=bn.optimizers.Adam(lr=0.01, clipnorm=1.0))
    result = parity.compare(model, x, y, x, y, steps=30, batch_size=16)
    assert result.dropout_compared and len(result.records) == 30
    assert result.max_param_diff <= 1e-9 and result.max_loss_diff <= 1e-9


def test_cuda_zero_is_a_device_name():
    assert backend.get_backend("cuda:0").device_id == 0
    assert bn.MLP([4, 3], device="cuda:0").device == "cuda:0"


def test_a_run_stopped_on_the_gpu_resumes_on_the_cpu(tmp_path, monkeypatch):
    """A lost lease: epoch 1 on CUDA, epochs 2-3 on the CPU, against all three on CUDA (float64: to 1e-10)."""
    from barenet.errors import Interrupted
    from barenet.runs import config as cfg
    from barenet.runs import prepared, run
    from barenet.runs.resume import resume

    data = run_dataset(*synthetic(700, seed=4))
    monkeypatch.setattr(prepared, "load_data", lambda config: data)
    config = cfg.resolve(overrides={"train.device": "cuda", "train.epochs": 3, "model.layers": [784, 16, 10],
                                    "model.dtype": "float64", "model.dropout": 0.2, "train.batch_size": 50})
    whole = run.run(config, out=tmp_path / "whole", quiet=True)
    with pytest.raises(Interrupted):
        run.run(config, out=tmp_path / "moved", quiet=True, callbacks=[stop_after_first_epoch()])
    moved = resume(tmp_path / "moved", quiet=True, device="cpu")
    assert moved["test_accuracy"] == whole["test_accuracy"]
    for a, b in zip(bn.load(tmp_path / "moved" / "model.safetensors").get_weights(),
                    bn.load(tmp_path / "whole" / "model.safetensors").get_weights()):
        assert relative_error(a, b) < 1e-10
