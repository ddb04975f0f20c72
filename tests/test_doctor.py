"""The training doctor: telemetry at sampled steps, each rule on a tiny network with its cause planted, the
callback in `fit`, its state, and the diagnoses replayed from recorded telemetry."""

import math
import warnings

import numpy as np
import pytest

import barenet as bn
from barenet.errors import TrainingDiverged
from barenet.training import telemetry
from barenet.training.callbacks import Callback
from barenet.training.diagnoses import Diagnosis, Evidence, Sample
from barenet.training.doctor import Doctor, replay
from barenet.training.rules import CODES, examine
from barenet.training.telemetry import LayerSpec, Probe, sample_plan
from barenet.training.trainer import Trainer
from helpers import wrong_relu


def blobs(rows=1200, features=20, classes=3, seed=0, scale=1.0):
    """Gaussian blobs a small MLP learns: x (rows, features) float32, y (rows,) class ids."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, rows)
    centers = rng.normal(size=(classes, features)) * 2.0
    return ((centers[y] + rng.normal(size=(rows, features))) * scale).astype(np.float32), y


def codes_of(model, x, y, epochs=2, batch_size=32, **fit):
    """Train with the default doctor (verbose 0); the codes it found, in order."""
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")  # the warnings the doctor's findings repeat (unscaled input, double softmax)
        try:
            model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, **fit)
        except TrainingDiverged:
            pass
    return [d.code for d in model.history.diagnoses]


def mlp(sizes=(20, 32, 32, 3), lr=0.1, momentum=0.9, optimizer=None, **options):
    model = bn.MLP(list(sizes), seed=0, **options)
    return model.compile(optimizer=optimizer or bn.optimizers.SGD(lr=lr, momentum=momentum))


# ----- telemetry ---------------------------------------------------------------------------------
def test_the_plan_samples_a_fixed_number_of_steps_per_epoch_from_its_first():
    plan = sample_plan(430, batch_size=128)
    assert sorted(plan) == [0, 107, 215, 322] and all(plan.values()) and telemetry.PER_EPOCH == 4
    assert sample_plan(20, batch_size=128) == {0: True, 10: True}  # short epochs: one probe per 8 steps at most
    assert sample_plan(3, batch_size=128) == {0: True}
    assert sample_plan(1, batch_size=60000) == {0: True}  # full batch: every step (= every epoch)


def test_small_batches_join_the_rows_of_the_steps_before_a_probe():
    plan = sample_plan(10000, batch_size=1)
    probes = [batch for batch, probe in plan.items() if probe]
    assert len(probes) == telemetry.PER_EPOCH and probes[0] == telemetry.MIN_ROWS - 1
    assert sum(not probe for probe in plan.values()) == telemetry.PER_EPOCH * (telemetry.MIN_ROWS - 1)
    assert all(plan[batch] is False for batch in range(probes[0]))


def planted_net():
    """[3 -> 4 relu -> 2] in float64: unit 3 of the hidden layer never fires (bias -100), units 0 and 1 are
    copies (the same weights and bias)."""
    model = bn.Sequential([bn.layers.Dense(3, 4), bn.layers.ReLU(), bn.layers.Dense(4, 2)], seed=0, dtype="float64")
    model.compile(optimizer=bn.optimizers.SGD(lr=0.1))
    W, b = model.layers[0].params["W"], model.layers[0].params["b"]
    W[:, 1] = W[:, 0]
    b[:] = [0.5, 0.5, 0.1, -100.0]
    return model


def test_a_probe_measures_each_layer_as_numpy_computes_it():
    model = planted_net()
    x = np.random.default_rng(1).normal(size=(64, 3))
    before = [p.copy() for p in model.parameters()[0]]
    gradients = [g * 0 + 0.5 for g in model.parameters()[0]]
    for p in model.parameters()[0]:
        p *= 1.01  # the "update": every weight 1% larger
    (inputs, hidden, output), counts = Probe(model).measure(x, gradients, before)
    assert counts == []  # no targets given
    h = np.maximum(x @ model.layers[0].params["W"] + model.layers[0].params["b"], 0)
    assert inputs["max"] == pytest.approx(np.abs(x).max()) and inputs["std"] == pytest.approx(x.std())
    assert hidden["activation"] == "relu" and hidden["units"] == 4 and output["activation"] == "identity"
    assert hidden["mean"] == pytest.approx(h.mean()) and hidden["std"] == pytest.approx(h.std())
    assert hidden["dead"] == 0.25  # unit 3
    assert hidden["update_ratio"] == pytest.approx(0.01) and hidden["grad_rms"] == pytest.approx(0.5)
    assert hidden["weight_rms"] == pytest.approx(np.sqrt(np.mean(model.layers[0].params["W"] ** 2)))
    assert math.isnan(hidden["saturated"]) and math.isnan(output["dead"])
    assert 0 < hidden["spread"] < 1


def test_units_that_are_copies_show_a_zero_spread_and_a_correlation_of_one():
    model = planted_net()
    model.layers[0].params["W"][:] = 0.3  # every unit the same: a constant init
    model.layers[0].params["b"][:] = 0.0
    x = np.random.default_rng(1).normal(size=(64, 3))
    (_, hidden, _), _ = Probe(model).measure(x, None, None)
    assert hidden["spread"] == 0.0 and hidden["correlation"] == pytest.approx(1.0)
    assert math.isnan(hidden["grad_rms"]) and math.isnan(hidden["update_ratio"])  # no gradients given


def test_sigmoid_saturation_is_the_share_beyond_099():
    model = bn.Sequential([bn.layers.Dense(2, 3), bn.layers.Sigmoid(), bn.layers.Dense(3, 2)], seed=0)
    model.layers[0].params["W"][:] = [[10.0, 0.01, -10.0], [0.0, 0.0, 0.0]]
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.1, 0.0], [2.0, 0.0]], dtype=np.float32)
    (_, hidden, _), counts = Probe(model).measure(x, None, None, targets=np.array([0, 1, 1, 1]))
    assert counts == [1, 3]
    s = 1 / (1 + np.exp(-(x @ model.layers[0].params["W"])))
    assert hidden["saturated"] == pytest.approx(((s > 0.99) | (s < 0.01)).mean())


# ----- the Trainer's sampling ------------------------------------------------------------------
class Sampler(Callback):
    """Samples batches 0 and 2 (2 with gradients and weights), and records what it sees."""

    def __init__(self):
        self.steps = []

    def sampled_steps(self, epoch, steps):
        return {0: False, 2: True}

    def on_step_end(self, step):
        self.steps.append(step)


class EveryStep(Callback):
    def __init__(self):
        self.steps = []

    def on_step_end(self, step):
        self.steps.append(step)


def test_a_sampler_sees_only_its_steps_with_the_true_gradients_and_the_weights_before():
    x, y = blobs(64)
    model, twin = (mlp(dtype="float64", lr=0.1) for _ in range(2))
    sampler, every = Sampler(), EveryStep()
    Trainer(model, batch_size=16, shuffle=False, callbacks=[sampler, every]).fit(x, y, epochs=1)
    assert [s.batch for s in sampler.steps] == [0, 2] and len(every.steps) == 4
    assert sampler.steps[0].gradients is None and sampler.steps[0].weights_before is None
    # copies are made at the sampled step alone (every callback at that step sees the same Step)
    assert [s.gradients is not None and s.weights_before is not None for s in every.steps] == [False, False, True,
                                                                                                False]
    third = sampler.steps[1]
    for batch in range(2):  # the twin takes the first two steps by hand
        twin.compute_gradients(x[16 * batch:16 * batch + 16].astype(np.float64), y[16 * batch:16 * batch + 16])
        twin.optimizer.step(*twin.optimizer_slots)
    for got, want in zip(third.weights_before, twin.get_weights()):
        np.testing.assert_array_equal(got, want)
    twin.compute_gradients(third.x, third.y)
    for got, want in zip(third.gradients, twin.parameters()[1]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


class Stopped(Callback):
    def __init__(self):
        self.errors, self.ended = [], False

    def on_train_stop(self, error):
        self.errors.append(error)

    def on_train_end(self, logs):
        self.ended = True


def test_on_train_stop_runs_on_divergence_and_on_ctrl_c_before_the_error_goes_on():
    x, y = blobs(64)
    watcher = Stopped()
    with pytest.raises(TrainingDiverged), np.errstate(all="ignore"):
        Trainer(mlp(lr=1e6), batch_size=16, callbacks=[watcher]).fit(x * 1e3, y, epochs=3)
    assert isinstance(watcher.errors[0], TrainingDiverged) and not watcher.ended
    interrupter, watcher = bn.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: (_ for _ in ()).throw(
        KeyboardInterrupt)), Stopped()
    with pytest.raises(KeyboardInterrupt):
        Trainer(mlp(), batch_size=16, callbacks=[interrupter, watcher]).fit(x, y, epochs=3)
    assert isinstance(watcher.errors[0], KeyboardInterrupt)


# ----- each rule, its cause planted in a tiny network -----------------------------------------------
def test_a_healthy_tiny_network_gets_no_diagnosis():
    x, y = blobs()
    assert codes_of(mlp(), x, y, epochs=3) == []


def test_unscaled_inputs():
    x, y = blobs(scale=255.0)
    assert "unscaled-inputs" in codes_of(mlp(lr=0.001, momentum=0.0), x, y)


def test_saturated_units():
    x, y = blobs()
    model = mlp(activation="sigmoid", init={"name": "random_normal", "scale": 3.0})
    assert "saturated-units" in codes_of(model, x, y)


def test_dead_relus():
    x, y = blobs()
    model = mlp(bias_init={"name": "constant", "value": -30.0})
    assert "dead-relus" in codes_of(model, x, y)


def test_symmetric_units_from_a_constant_init():
    x, y = blobs()
    model = mlp(activation="sigmoid", init={"name": "constant", "value": 0.05})
    assert "symmetric-units" in codes_of(model, x, y)


def test_symmetric_units_from_an_all_positive_init():
    x, y = blobs()
    model = mlp((20, 32, 32, 32, 32, 3), lr=0.001, momentum=0.0, init={"name": "random_uniform", "low": 0.0,
                                                                       "high": 0.05})
    assert "symmetric-units" in codes_of(model, x, y)


def test_vanishing_gradients():
    x, y = blobs()
    model = mlp((20, *[16] * 14, 3), activation="sigmoid", init="glorot_uniform")
    assert "vanishing-gradients" in codes_of(model, x, y)


def test_lr_too_low_and_stuck_at_chance():
    x, y = blobs(2000)
    found = codes_of(mlp(lr=1e-9), x, y, epochs=2, batch_size=16)
    assert "lr-too-low" in found and "stuck-at-chance" in found


def test_lr_too_high_when_the_loss_blows_up():
    x, y = blobs()
    assert "lr-too-high" in codes_of(mlp(lr=50.0), x, y)


def test_double_softmax():
    x, y = blobs()
    model = bn.Sequential([bn.layers.Dense(20, 16), bn.layers.ReLU(), bn.layers.Dense(16, 3), bn.layers.Softmax()],
                          seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.compile(loss="softmax_cross_entropy", optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
    found = codes_of(model, x, y, epochs=1)
    assert found[0] == "double-softmax" and model.history.diagnoses[0].step == 0


def test_shuffled_labels():
    x, y = blobs(600)
    shuffled = np.random.default_rng(1).permutation(y)
    found = codes_of(mlp((20, 128, 128, 3), lr=0.01), x, shuffled, epochs=4, batch_size=8)
    assert "label-noise-or-shuffled-labels" in found


WrongReLU = wrong_relu()


def test_a_relu_subclass_with_its_own_derivative_is_not_fused_away():
    from barenet.nn.fusion import fuse

    chain = fuse([bn.layers.Dense(3, 4), WrongReLU(), bn.layers.Dense(4, 2)])
    assert isinstance(chain[1], WrongReLU)  # its backward runs (fused, the built-in derivative would)
    plain = type("PlainReLU", (bn.layers.ReLU,), {})
    assert len(fuse([bn.layers.Dense(3, 4), plain(), bn.layers.Dense(4, 2)])) == 2


def test_wrong_gradients():
    x, y = blobs()
    model = bn.Sequential([bn.layers.Dense(20, 32), WrongReLU(), bn.layers.Dense(32, 3)], seed=0)
    model.compile(optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
    assert codes_of(model, x, y, epochs=1) == ["wrong-gradients"]
    assert codes_of(mlp(), x, y, epochs=1) == []  # the built-in ReLU passes the same check


def test_the_gradient_check_passes_a_correct_network_with_dropout():
    """Dropout draws its masks from a counter: the check rewinds it with the generator, so that the analytic pass
    and every finite-difference pass see the same masks."""
    x, y = blobs()
    doctor = Doctor()
    mlp(dropout=0.3).fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[doctor])
    errors = [row["gradient_error"] for row in doctor.health if row.get("gradient_error") == row.get("gradient_error")]
    assert errors and max(errors) < 1e-4, errors
    assert "wrong-gradients" not in [d.code for d in doctor.diagnoses]


@pytest.mark.parametrize("options", [{}, {"dropout": 0.3}])
def test_the_doctor_changes_nothing_in_training(options):
    """Probes, the gradient check and the rules leave weights, gradients and the random generator as they were:
    a run with the doctor ends bit for bit where one without it ends."""
    x, y = blobs(300)
    ended = []
    for diagnose in (True, False):
        model = mlp(lr=0.01, **options)
        model.fit(x, y, epochs=2, batch_size=4, verbose=0, diagnose=diagnose)  # small batches: probe windows
        ended.append((model.get_weights(), model.rng.bit_generator.state))
    for a, b in zip(ended[0][0], ended[1][0]):
        np.testing.assert_array_equal(a, b)
    assert ended[0][1] == ended[1][1]


# ----- rules over hand-made evidence: the curves ------------------------------------------------------------
def epochs_of(losses, val_losses, accuracy=0.9):
    return [{"epoch": i + 1, "loss": loss, "accuracy": accuracy, "val_loss": val, "val_accuracy": accuracy, "lr": 0.1}
            for i, (loss, val) in enumerate(zip(losses, val_losses))]


def evidence(epochs=(), samples=()):
    layers = [LayerSpec(0, "input", 4), LayerSpec(1, "relu", 8), LayerSpec(2, "identity", 3)]
    return Evidence(layers, classes=3, samples=list(samples), epochs=list(epochs), steps_per_epoch=200)


def test_overfitting_is_a_note_when_validation_loss_stays_above_its_best_while_training_loss_falls():
    rising = evidence(epochs_of([0.5, 0.3, 0.2, 0.1], [0.30, 0.32, 0.34, 0.36]))
    [(rule, message)] = examine(rising, "epoch")
    assert rule.code == "overfitting" and rule.severity == "note" and "20% above its best (0.3 after epoch 1" in message
    noise = evidence(epochs_of([0.5, 0.3, 0.2, 0.1], [0.300, 0.301, 0.302, 0.303]))  # up 1%: noise, not a trend
    assert examine(noise, "epoch") == []
    recent = evidence(epochs_of([0.5, 0.3, 0.2, 0.1], [0.40, 0.35, 0.30, 0.36]))  # its best one epoch ago: too soon
    assert examine(recent, "epoch") == []


def sample(step, epoch, update_ratio, loss=1.0):
    layers = [{"layer": 0, "max": 1.0}, {"layer": 1, "update_ratio": update_ratio, "grad_rms": 0.1},
              {"layer": 2, "update_ratio": update_ratio, "grad_rms": 0.1}]
    return Sample(step, epoch, 0, loss, 0.5, layers)


def test_lr_too_high_when_the_loss_rises_with_large_updates():
    rising = evidence(epochs_of([1.0, 1.5], [1.0, 1.5], accuracy=0.5), [sample(1, 1, 0.5), sample(201, 2, 0.5)])
    assert [rule.code for rule, _ in examine(rising, "epoch")] == ["lr-too-high"]
    calm = evidence(epochs_of([1.0, 1.5], [1.0, 1.5], accuracy=0.5), [sample(1, 1, 1e-3), sample(201, 2, 1e-3)])
    assert examine(calm, "epoch") == []  # a rising loss with healthy steps is no sign of the learning rate


def test_exploding_gradients_when_every_layer_s_gradient_grew_a_thousandfold():
    grown = evidence(samples=[sample(1, 1, 1e-3)])
    for step in (50, 100):
        grown.samples.append(sample(step, 1, 1e-3))
        for layer in grown.samples[-1].layers[1:]:
            layer["grad_rms"] = 500.0
    assert [rule.code for rule, _ in examine(grown, "probe")] == ["exploding-gradients"]


def test_every_code_is_documented_once():
    assert len(CODES) == len(set(CODES)) >= 12
    assert {"unscaled-inputs", "saturated-units", "dead-relus", "vanishing-gradients", "exploding-gradients",
            "symmetric-units", "stuck-at-chance", "lr-too-low", "lr-too-high", "double-softmax",
            "label-noise-or-shuffled-labels", "overfitting"} <= set(CODES)


# ----- the callback: fit's default, state, replay ---------------------------------------------------------------
def test_fit_diagnoses_by_default_and_not_with_diagnose_false(capsys):
    x, y = blobs(scale=255.0)
    model = mlp(lr=0.001, momentum=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x, y, epochs=1, batch_size=32, verbose=2)
    assert [d.code for d in history.diagnoses] == ["unscaled-inputs"]
    assert "diagnosis (problem, epoch 1): inputs reach" in capsys.readouterr().out
    quiet = mlp(lr=0.001, momentum=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert quiet.fit(x, y, epochs=1, batch_size=32, verbose=0, diagnose=False).diagnoses == []
    assert capsys.readouterr().out == ""


def test_a_rule_fires_once_per_run_and_a_resumed_run_does_not_report_it_again():
    x, y = blobs()
    model = mlp(bias_init={"name": "constant", "value": -30.0})
    reported = []
    first = Doctor(report=reported.append)
    trainer = Trainer(model, batch_size=32, callbacks=[first])
    trainer.fit(x, y, epochs=2)
    assert [d.code for d in reported] == ["dead-relus"]  # at a probe of epoch 1, not again at every later probe
    state = trainer.state_dict()
    later = Trainer(model, batch_size=32, callbacks=[Doctor(report=reported.append)])
    later.load_state_dict(state)
    later.fit(x, y, epochs=4)  # stuck at chance is found after epoch 3 (past MIN_STEPS), dead ReLUs not again
    assert [d.code for d in reported] == ["dead-relus", "stuck-at-chance"]
    assert later.history.diagnoses == reported
    assert Diagnosis.from_dict(state["progress"]["callbacks"]["Doctor"]["diagnoses"][0]) == first.diagnoses[0]


def test_replaying_the_telemetry_gives_the_diagnoses_training_gave():
    x, y = blobs()
    model = mlp(bias_init={"name": "constant", "value": -30.0})
    doctor = Doctor()
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[doctor])
    again = replay(Evidence(doctor.probe.layers, classes=3, steps_per_epoch=38), doctor.health,
                   model.history.rows())
    assert again == doctor.diagnoses and doctor.diagnoses


def test_the_doctor_on_a_device_measures_what_it_measures_on_the_cpu():
    """The fake device (tests/fakedevice.py) takes every device branch with NumPy arrays: the telemetry, computed
    with the model's array module and read once per probe, must equal the CPU's."""
    import fakedevice  # noqa: F401 (registers the "fake" device)

    x, y = blobs(400)
    health = {}
    for device in ("cpu", "fake"):
        model = bn.MLP([20, 32, 3], seed=0, device=device).compile(optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
        doctor = Doctor()
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[doctor])
        health[device] = doctor.health
    assert len(health["cpu"]) == len(health["fake"]) > 0
    for a, b in zip(health["cpu"], health["fake"]):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == b[key] or (a[key] != a[key] and b[key] != b[key]), key  # equal, or both NaN
