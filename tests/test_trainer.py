"""The Trainer: resumable state, the per-step hook, the one optimizer handshake per step, true gradients."""

import numpy as np
import pytest

import barenet as bn
from barenet.errors import ConfigError
from barenet.optim import optimizers
from barenet.runs.resume import checkpoint_progress
from barenet.training.callbacks import Callback, EarlyStopping, LambdaCallback
from barenet.training.trainer import Trainer


def blobs(n=240, seed=0):
    centers = np.random.default_rng(0).standard_normal((3, 10)) * 3
    rng = np.random.default_rng(seed + 1)
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.standard_normal((n, 10))).astype(np.float32), y


WARMUP = {"name": "cosine", "lr": 0.1, "total": 40, "warmup": 5, "per": "step"}  # starts at lr 0


def compiled(seed=0, dtype="float32", dropout=0.2, **sgd):
    options = {"lr": WARMUP, "momentum": 0.9, **sgd}
    model = bn.MLP([10, 16, 3], dropout=dropout, seed=seed, dtype=dtype)
    return model.compile(optimizer=optimizers.SGD(**options))


def without_seconds(history):
    return {key: values for key, values in history.history.items() if key != "seconds"}


def test_state_dict_resumes_bit_for_bit():
    x, y = blobs()
    xv, yv = blobs(60, seed=7)
    straight = compiled()
    expected = Trainer(straight, batch_size=16, callbacks=[EarlyStopping(patience=5)]).fit(
        x, y, epochs=4, validation_data=(xv, yv))

    first = compiled()
    trainer = Trainer(first, batch_size=16, callbacks=[EarlyStopping(patience=5)])
    trainer.fit(x, y, epochs=2, validation_data=(xv, yv))
    state = trainer.state_dict()
    assert state["progress"]["epoch"] == 2 and set(state["progress"]["callbacks"]) == {"EarlyStopping"}

    resumed = compiled(seed=99)  # different initial weights and generator: the state must replace both
    stopper = EarlyStopping(patience=5)
    again = Trainer(resumed, batch_size=16, callbacks=[stopper])
    again.load_state_dict(state)
    again.fit(x, y, epochs=2, validation_data=(xv, yv))  # nothing left to train: only on_train_begin runs
    assert stopper.best == min(state["progress"]["history"]["val_loss"])  # restored after it reset
    history = again.fit(x, y, epochs=4, validation_data=(xv, yv))
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert without_seconds(history) == without_seconds(expected)


class Recorder(Callback):
    needs_gradients = True

    def __init__(self):
        self.steps = []

    def on_step_end(self, step):
        self.steps.append(step)


@pytest.mark.parametrize("sgd", [{}, {"nesterov": True}, {"weight_decay": 0.01}])
def test_step_hook_gets_the_true_gradients_before_the_update(sgd):
    x, y = blobs(64)
    model, twin = (compiled(dtype="float64", dropout=0.0, lr=0.1, **sgd) for _ in range(2))
    recorder = Recorder()
    Trainer(model, batch_size=16, shuffle=False, callbacks=[recorder]).fit(x, y, epochs=1)
    assert [s.number for s in recorder.steps] == [1, 2, 3, 4] and [s.batch for s in recorder.steps] == [0, 1, 2, 3]
    first = recorder.steps[0]
    np.testing.assert_array_equal(first.x, x[:16].astype(np.float64))
    twin.compute_gradients(first.x, first.y)
    for got, want in zip(first.gradients, twin.parameters()[1]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_gradients_left_after_fit_are_true_gradients():
    """What the model's gradient buffers show after a step are dL/dparam, not anything an optimizer scaled."""
    x, y = blobs(32)
    model, twin = (compiled(dtype="float64", dropout=0.0, lr=0.1) for _ in range(2))
    model.fit(x, y, epochs=1, batch_size=None)  # one full-batch step from the initial weights
    assert model.optimizer.iterations == 1
    twin.compute_gradients(x.astype(np.float64), y)
    for got, want in zip(model.parameters()[1], twin.parameters()[1]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_one_optimizer_step_per_batch():
    class Counting(optimizers.SGD):
        begun = 0

        def step(self, params, grads):
            self.begun += 1
            return super().step(params, grads)

    x, y = blobs(100)
    model = bn.MLP([10, 8, 3]).compile(optimizer=Counting(lr=0.1, momentum=0.9))
    model.fit(x, y, epochs=3, batch_size=32)
    assert model.optimizer.iterations == 12 and model.optimizer.begun == 12


def test_max_steps_stops_inside_an_epoch_and_records_only_whole_epochs():
    x, y = blobs(100)
    model = compiled()
    seen = []
    trainer = Trainer(model, batch_size=10, callbacks=[LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))])
    history = trainer.fit(x, y, epochs=5, max_steps=25)
    assert model.optimizer.iterations == 25
    assert seen == [0, 1] and len(history) == 2 and trainer.epoch == 2


def test_keras_style_on_batch_end_still_runs():
    x, y = blobs(50)
    sizes = []
    bn.MLP([10, 3]).compile().fit(x, y, epochs=1, batch_size=20,
                                  callbacks=[LambdaCallback(on_batch_end=lambda b, logs: sizes.append(logs["size"]))])
    assert sizes == [20, 20, 10]


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": -1}, "epochs must be a non-negative integer"),
    ({"epochs": 2.5}, "epochs must be a non-negative integer"),
    ({"max_steps": 0}, "max_steps must be a positive integer"),
    ({"validation_split": 1.0}, "validation_split must be a fraction"),
])
def test_fit_parameters_are_checked_before_any_work(kwargs, message):
    x, y = blobs(20)
    model = compiled()
    with pytest.raises(ConfigError, match=message):
        Trainer(model).fit(x, y, **kwargs)
    assert model.optimizer.iterations == 0


def test_batch_size_is_checked_when_the_trainer_is_made():
    with pytest.raises(ConfigError, match="batch_size must be a positive integer or None"):
        Trainer(compiled(), batch_size=0)


def test_checkpoints_from_before_the_trainer_resume_their_early_stopping():
    old = {"epoch": 3, "rng": {}, "history": {}, "history_epochs": [],
           "early_stopping": {"best": 0.5, "wait": 1, "best_epoch": 2}}
    progress = checkpoint_progress(old)
    assert progress["callbacks"] == {"EarlyStopping": {"best": 0.5, "wait": 1, "best_epoch": 2}}
    assert "early_stopping" not in progress and old["early_stopping"]["wait"] == 1


def test_the_flat_module_names_of_barenet_0_1_still_import():
    from barenet.callbacks import EarlyStopping as OldEarlyStopping
    from barenet.layers import Dense
    from barenet.optimizers import SGD

    assert OldEarlyStopping is EarlyStopping and SGD is optimizers.SGD
    assert Dense is bn.nn.layers.Dense and bn.activations.softmax is bn.nn.functional.softmax
    assert bn.schedules.CosineDecay is bn.optim.schedules.CosineDecay


# ----- per-sample SGD from unformed weight gradients -------------------------------------------
@pytest.mark.parametrize("kernels", ["fused", "numpy"])
@pytest.mark.parametrize("options", [dict(momentum=0.9, nesterov=True, weight_decay=1e-3), dict(momentum=0.0),
                                     dict(momentum=0.9, dampening=0.3)])
def test_per_sample_sgd_from_factors_equals_sgd_on_formed_gradients(kernels, options):
    """At batch 1 SGD updates each weight matrix from x and grad_pre (`sgd_outer`), never writing the
    gradient; a callback that reads gradients makes the Trainer form them. Both end bit for bit alike."""
    import fakedevice
    from barenet import backend

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (120, 30), dtype=np.uint8)
    x[rng.random(x.shape) < 0.6] = 0
    y = rng.integers(0, 4, 120)
    runs = {}
    for formed in (False, True):
        recording = fakedevice.Recording(backend.get_backend("cpu", kernels=kernels).kernels)
        device = fakedevice.make("fake", kernels=recording)
        model = bn.MLP([30, 12, 8, 4], seed=1, device=device).compile(optimizer=bn.optimizers.SGD(lr=0.05, **options))
        watcher = bn.callbacks.LambdaCallback(on_step_end=lambda step: None)
        watcher.needs_gradients = formed
        # without the doctor, whose probe steps form the gradients they read
        model.fit(x, y, epochs=2, batch_size=1, verbose=0, callbacks=[watcher], diagnose=False)
        runs[formed] = (model.get_weights(), recording.calls)
    (unformed_weights, unformed_calls), (formed_weights, formed_calls) = runs[False], runs[True]
    assert unformed_calls["sgd_outer"] == 3 * 240 and unformed_calls["outer"] == 0
    assert formed_calls["sgd_outer"] == 0 and formed_calls["outer"] == 3 * 240
    for a, b in zip(unformed_weights, formed_weights):
        np.testing.assert_array_equal(a, b)


def test_per_sample_adam_forms_the_gradient_it_needs():
    """Optimizers without a rank-1 update get the formed gradient: Adam at batch 1 equals Adam given every
    gradient formed (a callback reading gradients)."""
    rng = np.random.default_rng(1)
    x, y = rng.random((50, 20)).astype(np.float32), rng.integers(0, 3, 50)
    weights = []
    for formed in (False, True):
        model = bn.MLP([20, 8, 3], seed=2).compile(optimizer=bn.optimizers.Adam(lr=1e-2))
        watcher = bn.callbacks.LambdaCallback(on_step_end=lambda step: None)
        watcher.needs_gradients = formed
        model.fit(x, y, epochs=1, batch_size=1, verbose=0, callbacks=[watcher])
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
