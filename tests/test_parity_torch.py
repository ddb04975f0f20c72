"""barenet against PyTorch, float64: layers, losses, optimizers, schedules, whole training runs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barenet import MLP, Sequential
from barenet.nn import layers, losses
from barenet.optim import optimizers, schedules
from barenet.pytorch import parity

torch = pytest.importorskip("torch")

TOL = 1e-10
FAST = settings(max_examples=12, deadline=None)
shapes = st.tuples(st.integers(1, 7), st.integers(1, 9), st.integers(1, 6), st.integers(0, 2**31 - 1))


def tensor(a, grad=True):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def close(a, b, tol=TOL):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b.detach().numpy() if hasattr(b, "detach") else b)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b), initial=0.0) <= tol, np.max(np.abs(a - b))


# ----- layers ------------------------------------------------------------------------
ACTIVATIONS = {
    "relu": (lambda: layers.ReLU(), lambda: torch.nn.ReLU()),
    "leaky_relu": (lambda: layers.LeakyReLU(0.07), lambda: torch.nn.LeakyReLU(0.07)),
    "sigmoid": (lambda: layers.Sigmoid(), lambda: torch.nn.Sigmoid()),
    "tanh": (lambda: layers.Tanh(), lambda: torch.nn.Tanh()),
    "softmax": (lambda: layers.Softmax(), lambda: torch.nn.Softmax(dim=1)),
}


def check_layer(layer, module, x, rng):
    """Forward, input gradient and parameter gradients of `layer` equal `module`'s."""
    out = layer.forward(x, training=True).copy()
    xt = tensor(x)
    yt = module(xt)
    close(out, yt)
    g = rng.normal(size=out.shape)
    grad_in = layer.backward(g)
    yt.backward(torch.from_numpy(g))
    close(grad_in, xt.grad)
    return module


@FAST
@given(shapes)
def test_dense_matches_linear(shape):
    batch, n_in, n_out, seed = shape
    rng = np.random.default_rng(seed)
    layer = layers.Dense(n_in, n_out)
    layer.build(rng, np.float64)
    layer.params["b"][:] = rng.normal(size=n_out)
    linear = parity.torch_module(layer)
    assert tuple(linear.weight.shape) == (n_out, n_in)
    check_layer(layer, linear, rng.normal(size=(batch, n_in)), rng)
    close(layer.grads["W"], linear.weight.grad.T)
    close(layer.grads["b"], linear.bias.grad)


@FAST
@given(shapes, st.sampled_from(sorted(ACTIVATIONS)))
def test_activations_match(shape, name):
    batch, features, _, seed = shape
    rng = np.random.default_rng(seed)
    ours, theirs = ACTIVATIONS[name]
    check_layer(ours(), theirs(), rng.normal(scale=3.0, size=(batch, features)), rng)


@FAST
@given(shapes)
def test_flatten_matches(shape):
    batch, a, b, seed = shape
    rng = np.random.default_rng(seed)
    check_layer(layers.Flatten(), torch.nn.Flatten(), rng.normal(size=(batch, a, b)), rng)


@FAST
@given(shapes, st.floats(0.05, 0.9))
def test_dropout_with_the_same_mask(shape, rate):
    batch, features, _, seed = shape
    rng = np.random.default_rng(seed)
    layer = layers.Dropout(rate)
    layer.build(rng)
    x = rng.normal(size=(batch, features))
    module = parity.torch_module(layer, masked_dropout=True)
    out = layer.forward(x, training=True)
    module.mask = torch.from_numpy(layer.last_mask)
    xt = tensor(x)
    close(out, module(xt))
    g = rng.normal(size=x.shape)
    module(xt).backward(torch.from_numpy(g))
    close(layer.backward(g), xt.grad)
    # the mask is torch's own convention: zeros, and survivors scaled by 1/(1-rate)
    kept = layer.last_mask[layer.last_mask != 0]
    assert np.allclose(kept, 1.0 / (1.0 - rate))


# ----- losses ------------------------------------------------------------------------
def check_loss(loss, torch_fn, outputs, targets):
    """Value and gradient w.r.t. the outputs equal torch's."""
    value = loss.forward(outputs, targets)
    grad = loss.backward()
    ot = tensor(outputs)
    tt = torch.from_numpy(np.asarray(targets))
    expected = torch_fn(ot, tt)
    expected.backward()
    expected = float(expected.detach())
    assert abs(value - expected) <= TOL * max(1.0, abs(expected))
    close(grad, ot.grad)


def random_targets(rng, batch, classes, kind):
    if kind == "ids":
        return rng.integers(0, classes, size=batch)
    if kind == "onehot":
        return np.eye(classes)[rng.integers(0, classes, size=batch)]
    p = rng.random((batch, classes)) + 0.01
    return p / p.sum(axis=1, keepdims=True)


reductions = st.sampled_from(["mean", "sum"])
target_kinds = st.sampled_from(["ids", "onehot", "probs"])


@FAST
@given(shapes, reductions, target_kinds, st.sampled_from([0.0, 0.1, 0.37]))
def test_softmax_cross_entropy_matches_cross_entropy_loss(shape, reduction, kind, smoothing):
    batch, _, classes, seed = shape
    rng = np.random.default_rng(seed)
    classes += 1
    loss = losses.SoftmaxCrossEntropy(reduction=reduction, label_smoothing=smoothing)
    fn = torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)
    check_loss(loss, fn, rng.normal(scale=4.0, size=(batch, classes)), random_targets(rng, batch, classes, kind))


@FAST
@given(shapes, reductions, target_kinds)
def test_categorical_cross_entropy_matches_nll_of_log(shape, reduction, kind):
    batch, _, classes, seed = shape
    rng = np.random.default_rng(seed)
    classes += 1
    probs = parity.import_torch().softmax(torch.from_numpy(rng.normal(size=(batch, classes))), 1).numpy()
    targets = random_targets(rng, batch, classes, kind)

    def reference(p, t):
        if t.ndim == 1:
            return torch.nn.functional.nll_loss(torch.log(p), t, reduction=reduction)
        total = -(t * torch.log(p)).sum()
        return total if reduction == "sum" else total / p.shape[0]

    check_loss(losses.CategoricalCrossEntropy(reduction=reduction), reference, probs, targets)


@FAST
@given(shapes, reductions)
def test_mse_matches(shape, reduction):
    batch, _, units, seed = shape
    rng = np.random.default_rng(seed)
    check_loss(losses.MeanSquaredError(reduction), torch.nn.MSELoss(reduction=reduction),
               rng.normal(size=(batch, units)), rng.normal(size=(batch, units)))


@FAST
@given(shapes, reductions)
def test_bce_matches(shape, reduction):
    batch, _, units, seed = shape
    rng = np.random.default_rng(seed)
    probs = 1.0 / (1.0 + np.exp(-rng.normal(scale=3.0, size=(batch, units))))
    check_loss(losses.BinaryCrossEntropy(reduction), torch.nn.BCELoss(reduction=reduction),
               probs, rng.random((batch, units)))


@FAST
@given(shapes, reductions)
def test_bce_with_logits_matches(shape, reduction):
    batch, _, units, seed = shape
    rng = np.random.default_rng(seed)
    check_loss(losses.SigmoidBinaryCrossEntropy(reduction), torch.nn.BCEWithLogitsLoss(reduction=reduction),
               rng.normal(scale=30.0, size=(batch, units)), rng.random((batch, units)))


def test_loss_twins_match_for_every_barenet_loss(rng):
    """parity.torch_loss (what `compare` uses) agrees with barenet for each loss, class-id targets."""
    probs = rng.dirichlet(np.ones(5), size=6)
    for name in losses.REGISTRY:
        loss = losses.get(name)
        outputs = probs if loss.fuses is None else rng.normal(size=(6, 5))
        check_loss(loss, parity.torch_loss(loss), outputs, rng.integers(0, 5, size=6))


# ----- optimizers --------------------------------------------------------------------
OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(lr=0.1),
    "sgd_momentum": lambda: optimizers.SGD(lr=0.05, momentum=0.9),
    "sgd_nesterov": lambda: optimizers.SGD(lr=0.05, momentum=0.9, nesterov=True),
    "sgd_weight_decay": lambda: optimizers.SGD(lr=0.05, momentum=0.8, weight_decay=0.01),
    "sgd_dampening": lambda: optimizers.SGD(lr=0.05, momentum=0.9, dampening=0.3),
    "adam": lambda: optimizers.Adam(lr=0.01),
    "adam_weight_decay": lambda: optimizers.Adam(lr=0.01, beta1=0.8, beta2=0.99, weight_decay=0.05),
    "adamw": lambda: optimizers.AdamW(lr=0.01, weight_decay=0.1),
    "rmsprop": lambda: optimizers.RMSprop(lr=0.01),
    "rmsprop_momentum": lambda: optimizers.RMSprop(lr=0.01, momentum=0.9),
    "rmsprop_centered": lambda: optimizers.RMSprop(lr=0.01, alpha=0.9, centered=True, momentum=0.5),
    "rmsprop_weight_decay": lambda: optimizers.RMSprop(lr=0.01, weight_decay=0.02),
    "sgd_clipnorm": lambda: optimizers.SGD(lr=0.1, momentum=0.9, clipnorm=0.5),
    "adam_clipnorm": lambda: optimizers.Adam(lr=0.01, clipnorm=1.0),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_follows_torch_for_50_steps(name):
    rng = np.random.default_rng(7)
    opt = OPTIMIZERS[name]()
    params = [rng.normal(size=(4, 3)), rng.normal(size=3)]
    tparams = [tensor(p.copy()) for p in params]
    topt = parity.torch_optimizer(opt, tparams)
    clipped = 0
    for _ in range(50):
        grads = [rng.normal(scale=2.0, size=p.shape) for p in params]
        for t, g in zip(tparams, grads):
            t.grad = torch.from_numpy(g.copy())
        if opt.clipnorm is not None:
            before = np.sqrt(sum((g * g).sum() for g in grads))
            clipped += before > opt.clipnorm
            parity.clip_grad_norm(tparams, opt.clipnorm)
        opt.step(params, grads)
        topt.step()
        for p, t in zip(params, tparams):
            close(p, t)
    assert opt.clipnorm is None or clipped > 0  # the clipping really acted


# ----- schedules ---------------------------------------------------------------------
SCHEDULES = {
    "step": lambda: schedules.StepDecay(0.3, step_size=7, gamma=0.5),
    "exponential": lambda: schedules.ExponentialDecay(0.3, gamma=0.93),
    "cosine": lambda: schedules.CosineDecay(0.3, total=50, min_lr=0.01),
    "cosine_short": lambda: schedules.CosineDecay(0.3, total=20, min_lr=0.01, hold_min=False),
    "cosine_warmup_from_zero": lambda: schedules.CosineDecay(0.3, total=50, warmup=8),
    "cosine_warmup_linear_lr": lambda: schedules.CosineDecay(0.3, total=45, warmup=5, warmup_start=0.1,
                                                             min_lr=0.001, hold_min=False),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_follows_torch_for_50_steps(name):
    schedule = SCHEDULES[name]()
    topt = torch.optim.SGD([tensor(np.zeros(1))], lr=schedule.initial_lr)
    scheduler = parity.torch_scheduler(schedule, topt)
    for t in range(50):
        assert abs(schedule(t) - topt.param_groups[0]["lr"]) <= TOL, t
        topt.step()
        scheduler.step()


def test_cosine_holds_min_lr_after_total_unlike_torch():
    """The documented difference: torch's cosine rises again after T_max, barenet's default holds."""
    held = schedules.CosineDecay(1.0, total=10, min_lr=0.1)
    assert held(15) == pytest.approx(0.1)
    assert schedules.CosineDecay(1.0, total=10, min_lr=0.1, hold_min=False)(15) > 0.5


@pytest.mark.parametrize("mode,cooldown,eps", [("min", 0, 1e-8), ("min", 2, 1e-8), ("max", 1, 0.0)])
def test_reduce_on_plateau_follows_torch(mode, cooldown, eps):
    rng = np.random.default_rng(3)
    schedule = schedules.ReduceOnPlateau(0.5, monitor="loss", factor=0.5, patience=2, mode=mode,
                                         cooldown=cooldown, min_lr=1e-3, eps=eps)
    topt = torch.optim.SGD([tensor(np.zeros(1))], lr=0.5)
    scheduler = parity.torch_scheduler(schedule, topt)
    metrics = np.concatenate([np.linspace(1.0, 0.5, 10), 0.5 + 0.01 * rng.random(40)])
    if mode == "max":
        metrics = -metrics
    lrs = set()
    for value in metrics:
        schedule.observe({"loss": float(value)})
        scheduler.step(float(value))
        assert abs(schedule(0) - topt.param_groups[0]["lr"]) <= TOL
        lrs.add(schedule(0))
    assert len(lrs) >= 3  # it really reduced, more than once
    if cooldown == 0:
        assert min(lrs) == pytest.approx(1e-3)  # and reached min_lr


# ----- whole training runs -----------------------------------------------------------
def toy_data(rng, n=96, features=12, classes=4):
    x = rng.normal(size=(n, features))
    y = (x[:, :classes] + 0.3 * rng.normal(size=(n, classes))).argmax(axis=1)
    return x, y


@pytest.mark.parametrize("optimizer,schedule", [
    (optimizers.SGD(lr=schedules.CosineDecay(0.1, total=100, warmup=10, per="step"), momentum=0.9,
                    nesterov=True, weight_decay=1e-3), None),
    (optimizers.Adam(lr=schedules.StepDecay(0.01, step_size=3, gamma=0.5), clipnorm=1.0), None),
])
def test_three_hidden_layer_mlp_trains_like_torch_for_100_steps(optimizer, schedule):
    rng = np.random.default_rng(11)
    x, y = toy_data(rng)
    model = MLP([12, 16, 16, 16, 4], activation=["relu", "tanh", "leaky_relu"], seed=5, dtype="float64")
    model.compile(loss="softmax_cross_entropy", optimizer=optimizer)
    start = model.get_weights()
    result = parity.compare(model, x, y, x, y, steps=100, batch_size=16)
    assert len(result.records) == 100
    assert result.max_param_diff <= 1e-9
    assert result.max_loss_diff <= 1e-9
    assert max(np.abs(a - b).max() for a, b in zip(start, model.get_weights())) > 1e-2  # it trained
    assert result.accuracy_barenet == result.accuracy_torch


def test_compare_feeds_dropout_masks_and_matches():
    rng = np.random.default_rng(2)
    x, y = toy_data(rng)
    model = MLP([12, 16, 16, 4], dropout=0.3, input_dropout=0.1, seed=1, dtype="float64")
    model.compile(loss={"name": "softmax_cross_entropy", "label_smoothing": 0.1},
                  optimizer=optimizers.RMSprop(lr=0.003, momentum=0.5, centered=True))
    result = parity.compare(model, x, y, x, y, steps=30, batch_size=20)
    assert result.dropout_compared
    assert result.max_param_diff <= 1e-10
    assert sorted(result.final_param_diffs) == ["1.W", "1.b", "4.W", "4.b", "7.W", "7.b"]
    assert parity.tolerance_ok(result, np.float64)


def test_compare_detects_a_real_difference(monkeypatch):
    """The comparison can fail: a torch twin with a different learning rate is caught."""
    rng = np.random.default_rng(4)
    x, y = toy_data(rng)
    model = MLP([12, 8, 4], seed=0, dtype="float64").compile(optimizer=optimizers.SGD(lr=0.1))
    real = parity.torch_optimizer

    def skewed(opt, params):
        made = real(opt, params)
        made.param_groups[0]["lr"] *= 1.001
        return made

    monkeypatch.setattr(parity, "torch_optimizer", skewed)
    result = parity.compare(model, x, y, steps=5, batch_size=32)
    assert not parity.tolerance_ok(result, np.float64)
    assert parity.first_step_over(result, np.float64) == 1
    assert max(result.final_param_diffs.values()) > 1e-6


def test_compare_with_plateau_mse_softmax_output_and_max_norm():
    rng = np.random.default_rng(9)
    x, y = toy_data(rng, n=40)
    model = MLP([12, 10, 4], activation="sigmoid", max_norm=0.8, seed=3, dtype="float64")
    model.compile(loss="mse", optimizer=optimizers.SGD(
        lr=schedules.ReduceOnPlateau(8.0, monitor="loss", patience=0, factor=0.5), momentum=0.5))
    result = parity.compare(model, x, y, steps=40, batch_size=10)  # 10 epochs of 4 steps
    assert model.optimizer.schedule(0) < 8.0  # the plateau schedule acted
    assert result.max_param_diff <= 1e-10


def test_to_torch_predicts_like_barenet(rng):
    model = Sequential([layers.Flatten(), layers.Dense(6, 5), layers.LeakyReLU(0.2), layers.Dropout(0.5),
                        layers.Dense(5, 3), layers.Softmax()], dtype="float64", output="linear")
    x = rng.normal(size=(4, 2, 3))
    net = parity.to_torch(model).eval()
    close(model.forward(x.reshape(len(x), -1)), net(torch.from_numpy(x)))


def test_import_barenet_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, barenet, barenet.pytorch.parity, barenet.pytorch.files, barenet.cli; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_cli_compare_on_mnist(tmp_path):
    from clihelpers import barenet
    from helpers import mnist_dir, skip_reason

    if mnist_dir() is None:
        pytest.skip(skip_reason("mnist"))
    config = tmp_path / "small.toml"
    config.write_text('name = "small"\n[model]\nlayers = [784, 32, 10]\ndropout = 0.2\n'
                      '[optimizer]\nname = "adam"\nlr = 0.001\n[train]\nbatch_size = 64\n')
    result = barenet("compare", "--config", config, "--steps", "20", "--dtype", "float64")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dropout: barenet's masks are fed" in result.stdout
    assert "PASS" in result.stdout and "test accuracy: barenet" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.strip()[:1].isdigit() and "-" in line]
    assert len(rows) == 10 and rows[-1].split()[0] == "19-20"  # one row per range of 2 steps
