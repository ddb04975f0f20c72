"""Devices without a GPU: backend selection and its errors, and every device branch run on a fake device.

The fake device (tests/fakedevice.py) holds NumPy arrays but is not the host: the Trainer
uploads the data set, gathers batches there, keeps its metrics there until the epoch ends,
and models hand back host copies. Its kernels are the CPU ones, so a run on it must equal
a run on "cpu" bit for bit; the same runs on a real GPU are tests/test_device_cuda.py's.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import barenet as bn
import fakedevice  # noqa: F401 (registers the "fake" device)
from barenet import backend
from barenet.errors import ConfigError
from barenet.models import loading
from barenet.runs import config as cfg
from barenet.runs.folder import fingerprint
from barenet.training.resident import Totals
from barenet.training.telemetry import sample_plan
from clihelpers import assert_user_error, barenet, cli_env
from helpers import run_dataset, stop_after_first_epoch, with_data


def synthetic(rows=600, seed=0):
    """uint8 images (rows, 784) and class ids (rows,) that a network can partly learn."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, rows)
    x = rng.integers(0, 120, (rows, 784)).astype(np.uint8)
    x[np.arange(rows), y * 70] = 255  # one bright pixel per class
    return x, y


def trained(device, dtype="float32", augment=None, optimizer=None, loss="softmax_cross_entropy", epochs=2):
    """A small MLP with dropout trained on `device`: (model, history)."""
    x, y = synthetic()
    model = bn.MLP([784, 32, 16, 10], dropout=0.2, input_dropout=0.1, max_norm=3.0, seed=7, dtype=dtype,
                   device=device)
    model.compile(loss=loss, optimizer=optimizer or bn.optimizers.SGD(lr=0.05, momentum=0.9, clipnorm=5.0))
    history = model.fit(x, y, epochs=epochs, batch_size=64, validation_split=0.2, verbose=0, augment=augment)
    return model, history


def assert_same_run(a, b) -> None:
    (model_a, history_a), (model_b, history_b) = a, b
    for wa, wb in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert history_a.history[key] == history_b.history[key], key


# ----- the fake device equals the CPU, bit for bit --------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_on_the_fake_device_equals_the_cpu_bit_for_bit(dtype):
    cpu, fake = trained("cpu", dtype), trained("fake", dtype)
    assert fake[0].device == "fake" and cpu[0].device == "cpu"
    assert_same_run(cpu, fake)
    x, y = synthetic(200, seed=1)
    np.testing.assert_array_equal(cpu[0].predict_proba(x), fake[0].predict_proba(x))
    assert cpu[0].evaluate(x, y) == fake[0].evaluate(x, y)
    assert cpu[1].history["loss"][-1] < cpu[1].history["loss"][0]  # it trained


@pytest.mark.parametrize("name,options,loss", [
    ("adam", {"lr": 1e-3, "weight_decay": 1e-4}, "softmax_cross_entropy"),
    ("rmsprop", {"lr": 1e-3, "momentum": 0.5, "centered": True}, {"name": "mse"}),
    ("adamw", {"lr": 1e-3}, {"name": "softmax_cross_entropy", "label_smoothing": 0.1}),
])
def test_other_optimizers_and_losses_equal_the_cpu_on_the_fake_device(name, options, loss):
    optimizer = {"name": name, **options}
    assert_same_run(trained("cpu", "float64", optimizer=optimizer, loss=loss),
                    trained("fake", "float64", optimizer=optimizer, loss=loss))


def test_augmentation_warps_on_the_device_and_equals_the_cpu():
    """On a device the warp runs there, on the uploaded rows: only each batch's maps (64, 2, 3), elastic
    coefficients and erased rectangles (64, 4) cross, never a batch of images or masks; the runs equal the
    CPU's bit for bit."""
    transforms = ["affine", "elastic", "flip", "erase"]
    cpu = trained("cpu", augment=bn.Augment(transforms, seed=3))
    fake = trained("fake", augment=bn.Augment(transforms, seed=3))
    assert_same_run(cpu, fake)
    uploads = fake[0].backend.uploads
    assert uploads[(64, 784)] == 0 and uploads[(64, 2, 28, 28)] == 0  # no images and no full fields cross
    assert uploads[(64, 2, 3)] >= 7 and uploads[(64, 4)] >= 7         # a batch's maps and rectangles, every step


def test_the_data_set_is_uploaded_once_and_batches_are_gathered_on_the_device():
    x, y = synthetic(500)
    model = bn.MLP([784, 16, 10], seed=0, device="fake").compile(optimizer="sgd")
    device = model.backend
    device.uploads.clear()
    model.fit(x, y, epochs=3, batch_size=50, validation_data=(x[:100], y[:100]), verbose=0, diagnose=False)
    assert device.uploads[(500, 784)] == 1          # the training images, once for three epochs
    assert device.uploads[(500,)] == 1 + 3          # the labels once, then one permutation per epoch
    assert device.uploads[(100, 784)] == 1          # the validation images, once
    assert device.uploads[(50, 784)] == 0           # no batch crosses: they are gathered on the device
    assert not device.downloads                     # and nothing comes back while training
    model.fit(x, y, epochs=3, batch_size=50, verbose=0)  # the training doctor reads one vector per probe, no more
    probes = 3 * sum(sample_plan(10, 50).values())  # probes per epoch (True), times 3 epochs
    assert sum(device.downloads.values()) == probes and len(device.downloads) == 1


def test_dropout_and_clipping_send_nothing_to_the_device_per_step():
    """Dropout draws its masks inside the kernel (a counter-based generator) and clipping scales by a norm it
    keeps on the device: an epoch uploads the permutation and nothing else."""
    x, y = synthetic(512)
    model = bn.MLP([784, 32, 16, 10], dropout=0.3, input_dropout=0.1, seed=0, device="fake")
    model.compile(optimizer=bn.optimizers.SGD(lr=0.05, momentum=0.9, clipnorm=0.5))
    model.fit(x[:64], y[:64], epochs=1, batch_size=64, verbose=0)  # the first fit uploads the data
    device = model.backend
    device.uploads.clear()
    device.downloads.clear()
    model.fit(x, y, epochs=1, batch_size=64, verbose=0, diagnose=False)  # the doctor's reads: the test above
    assert set(device.uploads) == {(512, 784), (512,)}   # the training set (a new fit) and its permutation
    assert device.uploads[(512,)] == 2 and not device.downloads


def test_epoch_metrics_stay_on_the_device_until_read():
    device = backend.get_backend("fake")
    totals = Totals(device, mean=True)
    outputs, targets = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), np.array([1, 1, 1])
    totals.add(0.5, 3, outputs, targets, 0.5)
    totals.add(0.25, 3, outputs, targets, 0.5)
    assert isinstance(totals.loss, np.ndarray) and totals.loss.shape == ()  # a device scalar, not a float
    assert totals.read() == (2.25, 4)
    host = Totals(backend.get_backend("cpu"), mean=True)
    host.add(0.5, 3, outputs, targets, 0.5)
    assert isinstance(host.loss, float) and host.read() == (1.5, 2)


def test_a_diverging_run_on_a_device_is_caught_at_the_end_of_its_epoch():
    x, y = synthetic(256)
    model = bn.MLP([784, 16, 10], seed=0, device="fake").compile(optimizer=bn.optimizers.SGD(lr=1e30))
    start = model.get_weights()
    with pytest.raises(bn.errors.TrainingDiverged, match="in epoch 1 at learning rate"):
        with np.errstate(all="ignore"):
            model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    for before, after in zip(start, model.get_weights()):
        np.testing.assert_array_equal(before, after)  # restored to the epoch's start


def test_callbacks_that_want_steps_get_a_float_loss_on_a_device():
    x, y = synthetic(128)
    seen = []
    model = bn.MLP([784, 8, 10], seed=0, device="fake").compile(optimizer="sgd")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0,
              callbacks=[bn.callbacks.LambdaCallback(on_step_end=lambda step: seen.append(step.loss))])
    assert len(seen) == 4 and all(type(loss) is float for loss in seen)


# ----- files ---------------------------------------------------------------------------
def test_a_model_saved_on_a_device_loads_on_the_cpu_with_the_same_predictions(tmp_path):
    model, _ = trained("fake")
    path = tmp_path / "m.safetensors"
    model.save(path, include_optimizer=True)
    x, _ = synthetic(100, seed=2)
    on_cpu = bn.load(path)
    assert on_cpu.device == "cpu" and isinstance(on_cpu.flat_params, np.ndarray)
    np.testing.assert_array_equal(on_cpu.predict_proba(x), model.predict_proba(x))
    back = loading.load(path, device="fake")
    assert back.device == "fake"
    np.testing.assert_array_equal(back.predict_proba(x), model.predict_proba(x))
    np.testing.assert_array_equal(back.optimizer.state[0]["velocity"], model.optimizer.state[0]["velocity"])


def test_a_checkpoint_resumed_on_the_device_continues_like_the_cpu(tmp_path):
    x, y = synthetic(300)
    runs = {}
    for device in ("cpu", "fake"):
        model = bn.MLP([784, 16, 10], dropout=0.1, seed=2).compile(optimizer=bn.optimizers.Adam(lr=1e-3))
        trainer = bn.Trainer(model, batch_size=50)
        trainer.fit(x, y, epochs=1)
        model.save(tmp_path / "c.safetensors", include_optimizer=True, extra=trainer.progress())
        resumed = loading.load(tmp_path / "c.safetensors", device=device)
        again = bn.Trainer(resumed, batch_size=50)
        again.load_state_dict({"progress": resumed.extra})
        again.fit(x, y, epochs=2)
        runs[device] = resumed.get_weights()
    for a, b in zip(runs["cpu"], runs["fake"]):
        np.testing.assert_array_equal(a, b)


# ----- choosing a device, and its errors --------------------------------------------------
def test_cpu_is_the_default_and_one_backend_serves_the_model_its_loss_and_its_optimizer():
    model = bn.MLP([4, 3]).compile(optimizer="adam")
    cpu = backend.get_backend("cpu")
    assert model.device == "cpu" and cpu.on_host and backend.get_backend("cpu") is cpu
    assert model.backend is cpu and model.loss.backend is cpu and model.optimizer.backend is cpu
    assert all(layer.backend is cpu for layer in model.layers)


@pytest.mark.parametrize("device", ["tpu", "CUDA", "cuda:", "cuda:x", "gpu", ""])
def test_an_unknown_device_is_one_line_naming_the_choices(device):
    with pytest.raises(ConfigError) as caught:
        bn.MLP([4, 3], device=device)
    message = str(caught.value)
    assert "\n" not in message and f"unknown device {device!r}" in message and "'cuda:N'" in message


def hide_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` now raises ImportError


def test_cuda_without_cupy_names_the_extra(monkeypatch):
    hide_cupy(monkeypatch)
    for make in (lambda: bn.MLP([4, 3], device="cuda"), lambda: backend.get_backend("cuda:1")):
        with pytest.raises(ConfigError, match=r'pip install "barenet\[gpu\]"') as caught:
            make()
        assert "\n" not in str(caught.value)


def fake_cupy(monkeypatch, count=None, error=None):
    """A stand-in `cupy` whose runtime reports `count` devices, or raises `error` (no driver)."""
    def device_count():
        if error is not None:
            raise error
        return count
    runtime = types.SimpleNamespace(getDeviceCount=device_count, getDevice=lambda: 0)
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime),
                                                                   ElementwiseKernel=lambda *source: source,
                                                                   matmul=None))


@pytest.mark.parametrize("count,error,device,expected", [
    (None, RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient"), "cuda",
     "CuPy is installed but finds no CUDA driver or GPU (RuntimeError: cudaErrorInsufficientDriver"),
    (0, None, "cuda", "CuPy finds 0 CUDA devices on this machine; use cpu"),
    (2, None, "cuda:2", "CuPy finds 2 CUDA devices on this machine; use cuda:0 .. cuda:1"),
])
def test_cupy_without_a_usable_device_is_one_line(monkeypatch, count, error, device, expected):
    fake_cupy(monkeypatch, count, error)
    with pytest.raises(ConfigError) as caught:
        backend.get_backend(device)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_cuda_n_picks_that_device(monkeypatch):
    fake_cupy(monkeypatch, count=2)
    chosen = backend.get_backend("cuda:1")
    assert (chosen.name, chosen.device_id, chosen.on_host) == ("cuda:1", 1, False)


# ----- configs and the command line --------------------------------------------------------
def test_train_device_is_a_config_key_left_out_of_the_fingerprint_on_the_cpu():
    config = cfg.resolve()
    assert config["train"]["device"] == "cpu"
    before = {**config, "train": {k: v for k, v in config["train"].items() if k != "device"}}  # a run folder from main
    assert fingerprint(config) == fingerprint(before)
    assert fingerprint(cfg.resolve(overrides={"train.device": "cuda"})) != fingerprint(config)
    assert cfg.build_model(cfg.resolve(overrides={"train.device": "fake"})).device == "fake"
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        cfg.resolve(overrides={"train.device": "tpu"})


def test_cli_train_on_cuda_without_cupy_is_one_line_and_exit_2(tmp_path):
    hidden = tmp_path / "hidden"
    (hidden / "cupy").mkdir(parents=True)
    (hidden / "cupy" / "__init__.py").write_text('raise ImportError("No module named \'cupy\' (hidden by the test)")\n')
    env = cli_env(PYTHONPATH=f"{hidden}:{cli_env().get('PYTHONPATH', '')}")
    result = barenet("train", "--device", "cuda", "--epochs", "1", "--out", tmp_path / "run", env=env)
    assert_user_error(result, "device 'cuda' needs CuPy", 'pip install "barenet[gpu]"')
    assert not (tmp_path / "run").exists()  # refused before any folder or data
    result = barenet("train", "--device", "tpu", "--out", tmp_path / "run", env=env)
    assert_user_error(result, "unknown device 'tpu'")


def synthetic_dataset(config):
    """A stand-in for MNIST: 28x28 uint8 images of the kind `synthetic` makes, split as a run splits."""
    return run_dataset(*synthetic(700, seed=4))


def test_a_run_folder_trained_and_resumed_on_the_device_equals_the_cpu(tmp_path, monkeypatch):
    from barenet.runs import prepared, run
    from barenet.runs.resume import resume

    monkeypatch.setattr(prepared, "load_data", synthetic_dataset)
    summaries, weights = {}, {}
    for device in ("cpu", "fake"):
        config = cfg.resolve(overrides={"train.device": device, "train.epochs": 2, "model.layers": [784, 16, 10],
                                        "model.dropout": 0.2, "train.batch_size": 50})
        summaries[device] = run.run(config, out=tmp_path / device, quiet=True)
        resumed = resume(tmp_path / device, quiet=True)  # finished: reloads the checkpoint on the device
        assert resumed["test_accuracy"] == summaries[device]["test_accuracy"]
        weights[device] = bn.load(tmp_path / device / "model.safetensors").get_weights()
    assert summaries["cpu"]["test_accuracy"] == summaries["fake"]["test_accuracy"]
    assert summaries["cpu"]["final_epoch"]["loss"] == summaries["fake"]["final_epoch"]["loss"]
    for a, b in zip(weights["cpu"], weights["fake"]):
        np.testing.assert_array_equal(a, b)


def test_a_run_stopped_on_the_device_resumes_on_the_cpu(tmp_path, monkeypatch):
    from barenet.errors import Interrupted
    from barenet.runs import prepared, run
    from barenet.runs.resume import resume

    monkeypatch.setattr(prepared, "load_data", synthetic_dataset)
    overrides = {"train.epochs": 3, "model.layers": [784, 16, 10], "model.dropout": 0.2, "train.batch_size": 50}
    whole = run.run(cfg.resolve(overrides={**overrides, "train.device": "fake"}), out=tmp_path / "whole", quiet=True)
    moved = tmp_path / "moved"
    with pytest.raises(Interrupted, match="epoch 1 of 3 is saved"):
        run.run(cfg.resolve(overrides={**overrides, "train.device": "fake"}), out=moved, quiet=True,
                callbacks=[stop_after_first_epoch()])
    finished = resume(moved, quiet=True, device="cpu")
    assert cfg.resolve(path=moved / "config.toml")["train"]["device"] == "cpu"
    assert finished["epochs_run"] == 3 and finished["test_accuracy"] == whole["test_accuracy"]
    for a, b in zip(bn.load(moved / "model.safetensors").get_weights(),
                    bn.load(tmp_path / "whole" / "model.safetensors").get_weights()):
        np.testing.assert_array_equal(a, b)  # the fake device computes as the CPU does: no rounding apart
    assert resume(moved, quiet=True)["test_accuracy"] == whole["test_accuracy"]  # checkpoint matches config


@with_data("mnist")
def test_resume_takes_a_device_and_nothing_else(tmp_path):
    done = tmp_path / "done"
    trained = barenet("train", "--subset", "300", "--epochs", "1", "--layers", "784,8,10", "--validation", "0",
                      "--out", done, "--quiet")
    assert trained.returncode == 0, trained.stderr
    again = barenet("train", "--resume", done, "--device", "cpu", "--quiet")
    assert again.returncode == 0, again.stderr
    assert_user_error(barenet("train", "--resume", done, "--lr", "0.1"), "only --device may change")
    assert_user_error(barenet("train", "--resume", done, "--device", "tpu"), "tpu")
