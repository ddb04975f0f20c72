"""PyTorch twins of barenet objects, and `compare`: the same training run in both, step for step.

    from barenet import parity
    torch_net = parity.to_torch(model)                 # nn.Sequential with barenet's weights
    report = parity.compare(model, x, y, x_test, y_test, steps=200, batch_size=128)

torch is imported inside the functions (the `torch` extra), so `import barenet`
never needs it. Layer i of a barenet model is module i of the nn.Sequential
(the mapping is `mapping.TWINS`). `compare` trains barenet with an ordinary
`Trainer` and steps the twin from a callback, so both see the same batches.

Definitions that differ on purpose, and how the twins bridge them:
    BinaryCrossEntropy / CategoricalCrossEntropy clip probabilities to [eps, 1-eps];
        torch's BCELoss clamps log(p) at -100 and NLLLoss clips nothing. The twin
        clamps p the same way first (pass eps=0 to barenet to drop the clip).
    CosineDecay holds min_lr after `total`; CosineAnnealingLR rises again
        (hold_min=False makes barenet follow it).
    ReduceOnPlateau applies every reduction (eps=0); torch skips reductions smaller
        than eps=1e-8 (pass eps=1e-8 to barenet, or the twin is built with eps=0).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..data.transforms import to_floats
from ..errors import BarenetError, ConfigError
from ..models.sequential import EVAL_BATCH, Sequential
from ..nn import layers as L
from ..nn import losses
from ..optim import optimizers, schedules
from ..training import inputs
from ..training.callbacks import Callback, Step
from ..training.trainer import Trainer, count_correct
from .mapping import from_torch_weight, to_torch_weight, twin_of

INSTALL_HINT = 'PyTorch is not installed: pip install "barenet[torch]" to compare with it'


def import_torch() -> Any:
    """The torch module, or a one-line BarenetError telling how to install it."""
    try:
        import torch
    except ImportError:
        raise BarenetError(INSTALL_HINT) from None
    return torch


# ----- modules -------------------------------------------------------------------
def _masked_dropout_class():
    module: Any = import_torch().nn.Module

    class MaskedDropout(module):
        """Dropout whose (already scaled) mask is given from outside: barenet's mask for this step."""

        def __init__(self, rate: float):
            super().__init__()
            self.rate, self.mask = rate, None

        def forward(self, x):
            if not self.training or self.mask is None:
                return x
            return x * self.mask

    return MaskedDropout


def torch_module(layer: L.Layer, masked_dropout: bool = False):
    """The torch.nn module for one barenet layer, with its weights (see `mapping`)."""
    torch = import_torch()
    if masked_dropout and isinstance(layer, L.Dropout):
        return _masked_dropout_class()(layer.rate)
    twin = twin_of(layer)
    args, kwargs = twin.arguments(layer)
    if not layer.params:
        return getattr(torch.nn, twin.module)(*args, **kwargs)
    module = getattr(torch.nn, twin.module)(*args, **kwargs, dtype=_torch_dtype(layer.params["W"].dtype))
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(to_torch_weight(to_numpy(layer.params["W"]))))
        if "b" in layer.params:
            module.bias.copy_(torch.from_numpy(to_numpy(layer.params["b"])))
    return module


def to_torch(model: Sequential, masked_dropout: bool = False, with_output: bool = False):
    """An nn.Sequential equal to `model` (module i = layer i), in the model's dtype.

    with_output appends the output activation the loss does not apply itself
    (what the loss sees while training: e.g. softmax before MSE)."""
    torch = import_torch()
    layer_list = list(model.layers)
    if with_output and model.output_layer is not None:
        layer_list.append(model.output_layer)
    return torch.nn.Sequential(*[torch_module(layer, masked_dropout) for layer in layer_list])


def _torch_dtype(dtype):
    torch = import_torch()
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


# ----- losses --------------------------------------------------------------------
def torch_loss(loss: losses.Loss):
    """A function (outputs, targets) -> scalar tensor computing barenet's `loss` in torch.

    targets: class ids (batch,) as int64 or dense rows (batch, classes) as floats."""
    torch = import_torch()
    F = torch.nn.functional
    red = loss.reduction

    def dense(outputs, targets):
        if targets.ndim == 1:
            return F.one_hot(targets, outputs.shape[1]).to(outputs.dtype)
        return targets

    if isinstance(loss, losses.SoftmaxCrossEntropy):
        return lambda z, t: F.cross_entropy(z, t, reduction=red, label_smoothing=loss.label_smoothing)
    if isinstance(loss, losses.SigmoidBinaryCrossEntropy):
        return lambda z, t: F.binary_cross_entropy_with_logits(z, dense(z, t), reduction=red)
    if isinstance(loss, losses.MeanSquaredError):
        return lambda p, t: F.mse_loss(p, dense(p, t), reduction=red)
    if isinstance(loss, losses.BinaryCrossEntropy):
        eps = loss.eps
        return lambda p, t: F.binary_cross_entropy(p.clamp(eps, 1 - eps), dense(p, t), reduction=red)
    if isinstance(loss, losses.CategoricalCrossEntropy):
        eps = loss.eps

        def categorical(p, t):
            total = -(dense(p, t) * torch.log(p.clamp(eps, 1 - eps))).sum()
            return total if red == "sum" else total / p.shape[0]
        return categorical
    raise ConfigError(f"no PyTorch twin for loss {loss.name}")


# ----- optimizers and schedules ----------------------------------------------------
def torch_optimizer(optimizer: optimizers.Optimizer, params):
    """The torch.optim optimizer with barenet's options (clipnorm is applied by the caller)."""
    torch = import_torch()
    o, lr = optimizer, optimizer.schedule.initial_lr  # schedulers scale it from here
    if isinstance(o, optimizers.SGD):
        return torch.optim.SGD(params, lr=lr, momentum=o.momentum, dampening=o.dampening,
                               weight_decay=o.weight_decay, nesterov=o.nesterov)
    if isinstance(o, optimizers.Adam):
        kind = torch.optim.AdamW if o.decoupled else torch.optim.Adam
        return kind(params, lr=lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay)
    if isinstance(o, optimizers.RMSprop):
        return torch.optim.RMSprop(params, lr=lr, alpha=o.alpha, eps=o.eps, weight_decay=o.weight_decay,
                                   momentum=o.momentum, centered=o.centered)
    raise ConfigError(f"no PyTorch twin for optimizer {o.name}")


def torch_scheduler(schedule: schedules.Schedule, optimizer):
    """The torch.optim.lr_scheduler for a barenet schedule (None for a constant rate).

    Step it as barenet counts: after every epoch (per="epoch") or optimizer step
    (per="step"); ReduceLROnPlateau gets the monitored metric after every epoch."""
    torch = import_torch()
    S = torch.optim.lr_scheduler
    s = schedule
    if isinstance(s, schedules.Constant):
        return None
    if isinstance(s, schedules.StepDecay):
        return S.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
    if isinstance(s, schedules.ExponentialDecay):
        return S.ExponentialLR(optimizer, gamma=s.gamma)
    if isinstance(s, schedules.CosineDecay):
        return _torch_cosine(s, optimizer)
    if isinstance(s, schedules.ReduceOnPlateau):
        return S.ReduceLROnPlateau(optimizer, mode=s.mode, factor=s.factor, patience=s.patience,
                                   threshold=s.threshold, threshold_mode="rel", cooldown=s.cooldown,
                                   min_lr=s.min_lr, eps=s.eps)
    raise ConfigError(f"no PyTorch twin for schedule {s.name}")


def _torch_cosine(s: schedules.CosineDecay, optimizer):
    """CosineAnnealingLR, after LinearLR (or LambdaLR when warm-up starts at 0) via SequentialLR."""
    torch = import_torch()
    S = torch.optim.lr_scheduler
    if s.warmup == 0:
        return S.CosineAnnealingLR(optimizer, T_max=s.total, eta_min=s.min_lr)
    if s.warmup_start > 0:  # LinearLR refuses a start factor of 0
        warm = S.LinearLR(optimizer, start_factor=s.warmup_start, end_factor=1.0, total_iters=s.warmup)
    else:
        warm = S.LambdaLR(optimizer, lambda t: min(t, s.warmup) / s.warmup)
    cosine = S.CosineAnnealingLR(optimizer, T_max=s.total - s.warmup, eta_min=s.min_lr)
    return S.SequentialLR(optimizer, [warm, cosine], milestones=[s.warmup])


def clip_grad_norm(params, max_norm: float) -> None:
    """torch.nn.utils.clip_grad_norm_, barenet's `clipnorm`."""
    torch = import_torch()
    torch.nn.utils.clip_grad_norm_(params, max_norm)


# ----- compare ---------------------------------------------------------------------
@dataclass
class StepRecord:
    step: int
    loss_barenet: float
    loss_torch: float
    param_diff: float  # max |barenet - torch| over every parameter after this step

    @property
    def loss_diff(self) -> float:
        return abs(self.loss_barenet - self.loss_torch)


@dataclass
class Comparison:
    """What `compare` measured: per-step losses, differences, final test accuracies, timings."""

    records: list = field(default_factory=list)
    accuracy_barenet: float = math.nan
    accuracy_torch: float = math.nan
    seconds_barenet: float = 0.0
    seconds_torch: float = 0.0
    dropout_compared: bool = False
    final_param_diffs: dict = field(default_factory=dict)  # "layer.param" -> max |barenet - torch| at the end

    @property
    def max_loss_diff(self) -> float:
        return max((r.loss_diff for r in self.records), default=0.0)

    @property
    def max_relative_loss_diff(self) -> float:
        return max((r.loss_diff / max(abs(r.loss_torch), 1e-30) for r in self.records), default=0.0)

    @property
    def max_param_diff(self) -> float:
        return max((r.param_diff for r in self.records), default=0.0)


class _TorchTwin:
    """The torch side of a comparison: module, loss, optimizer, scheduler, in the model's dtype."""

    def __init__(self, model: Sequential):
        torch = import_torch()
        loss, optimizer = model.require_compiled()
        self.torch, self.model, self.clipnorm = torch, model, optimizer.clipnorm
        self.net = to_torch(model, masked_dropout=True, with_output=True)
        self.params = [p for p in self.net.parameters()]
        self.loss_fn = torch_loss(loss)
        self.optimizer = torch_optimizer(optimizer, self.params)
        self.schedule = optimizer.schedule
        self.scheduler = torch_scheduler(self.schedule, self.optimizer)
        self.dropouts = [(module, layer) for module, layer in zip(self.net, model.layers)
                         if isinstance(layer, L.Dropout)]

    def train_step(self, xb, yb) -> float:
        torch = self.torch
        for module, layer in self.dropouts:  # barenet's masks of this step
            module.mask = None if layer.last_mask is None else torch.from_numpy(to_numpy(layer.last_mask))
        self.net.train()
        self.optimizer.zero_grad()
        xb, yb = to_numpy(xb), to_numpy(yb)  # a model on a GPU hands over device arrays
        loss = self.loss_fn(self.net(torch.from_numpy(xb)), torch.from_numpy(np.ascontiguousarray(yb)))
        loss.backward()
        if self.clipnorm is not None:
            clip_grad_norm(self.params, self.clipnorm)
        self.optimizer.step()
        self._apply_constraints()
        if self.scheduler is not None and self.schedule.per == "step":
            self.scheduler.step()
        return float(loss.detach())

    def end_epoch(self, metric: float | None) -> None:
        if self.scheduler is None or self.schedule.per == "step":
            return
        if isinstance(self.schedule, schedules.ReduceOnPlateau):
            if metric is not None:
                self.scheduler.step(metric)
        else:
            self.scheduler.step()

    def _apply_constraints(self) -> None:
        torch = self.torch
        with torch.no_grad():
            for module, layer in zip(self.net, self.model.layers):
                if isinstance(layer, L.Dense) and layer.max_norm is not None:
                    norms = module.weight.norm(dim=1, keepdim=True)  # one row per unit in torch
                    module.weight.mul_(torch.clamp(layer.max_norm / torch.clamp(norms, min=1e-12), max=1.0))

    def weights(self) -> list:
        """torch parameters in barenet's layout (weights transposed back to (in, out))."""
        arrays = []
        for module, layer in zip(self.net, self.model.layers):
            if layer.params:
                arrays.append(from_torch_weight(module.weight.detach().numpy()))
                if "b" in layer.params:
                    arrays.append(module.bias.detach().numpy())
        return arrays

    def predict(self, x) -> np.ndarray:
        self.net.eval()
        with self.torch.no_grad():
            return self.net(self.torch.from_numpy(x)).numpy()


class _Lockstep(Callback):
    """Steps the torch twin after every barenet step, on the same batch, and records the differences."""

    def __init__(self, twin: _TorchTwin, result: Comparison, on_step=None):
        self.twin, self.result, self.on_step = twin, result, on_step
        self.mark = time.perf_counter()

    def on_train_begin(self, logs):
        self.mark = time.perf_counter()

    def on_step_end(self, step: Step) -> None:
        started = time.perf_counter()
        self.result.seconds_barenet += started - self.mark
        loss_torch = self.twin.train_step(step.x, step.y)
        self.result.seconds_torch += time.perf_counter() - started
        record = StepRecord(len(self.result.records) + 1, step.loss, loss_torch,
                            _max_diff(self.model.get_weights(), self.twin.weights()))
        self.result.records.append(record)
        if self.on_step is not None:
            self.on_step(record)
        self.mark = time.perf_counter()

    def on_epoch_end(self, epoch, logs):  # ReduceOnPlateau sees barenet's mean training loss in both
        self.twin.end_epoch(logs["loss"])
        self.mark = time.perf_counter()


def compare(model: Sequential, x, y, x_test=None, y_test=None, steps: int = 200, batch_size: int | None = 128,
            shuffle: bool = True, on_step=None) -> Comparison:
    """Train a compiled barenet `model` and its torch twin `steps` steps on the same batches.

    x (N, features) uint8 pixels or floats, y (N,) class ids or (N, classes) targets. barenet
    trains with an ordinary Trainer (batches drawn exactly as `fit` draws them); after each of
    its steps the twin takes one on the same float batch, with each Dropout's mask handed over.
    Epoch-based schedules advance at epoch ends. `on_step(record)` is called after every step.
    Returns a Comparison; the model ends trained, as after `fit`.
    """
    model.require_compiled()
    twin = _TorchTwin(model)
    result = Comparison(dropout_compared=bool(twin.dropouts))
    trainer = Trainer(model, batch_size=batch_size, shuffle=shuffle, callbacks=[_Lockstep(twin, result, on_step)])
    rows = len(np.asarray(y))
    per_epoch = math.ceil(rows / (batch_size or rows))
    trainer.fit(x, y, epochs=math.ceil(steps / per_epoch), max_steps=steps)
    result.final_param_diffs = _named_diffs(model, twin)
    if x_test is not None:
        x_test = inputs.features(x_test, model.in_features, model.dtype, "test x")
        y_test = inputs.targets(y_test, len(x_test), model.out_features, model.dtype, "test y")
        result.accuracy_barenet = trainer.evaluate(x_test, y_test)["accuracy"]
        result.accuracy_torch = _accuracy(twin, model, x_test, y_test)
    return result


def _accuracy(twin: _TorchTwin, model: Sequential, x, y) -> float:
    """The twin's accuracy on a checked test set: x (N, features), y ids (N,) or rows (N, classes)."""
    correct = 0
    for begin in range(0, len(x), EVAL_BATCH):
        outputs = twin.predict(to_floats(x[begin:begin + EVAL_BATCH], model.dtype))
        correct += count_correct(outputs, y[begin:begin + EVAL_BATCH], model.accuracy_threshold)
    return correct / len(x)


def _named_diffs(model: Sequential, twin: _TorchTwin) -> dict:
    names = [f"{i}.{key}" for i, layer in enumerate(model.layers) for key in layer.params]
    return {name: _max_diff([p], [q]) for name, p, q in zip(names, model.get_weights(), twin.weights())}


def _max_diff(a: list, b: list) -> float:
    return max((float(np.max(np.abs(np.asarray(p, dtype=np.float64) - np.asarray(q, dtype=np.float64))))
                for p, q in zip(a, b)), default=0.0)


def first_step_over(result: Comparison, dtype) -> int | None:
    """The first step whose differences exceed the tolerance, or None when every step is within it.

    float32: the loss within 1e-4 relative. float64: the loss within 1e-10 relative and every
    parameter within 1e-10 absolute."""
    exact = np.dtype(dtype) == np.float64
    limit = 1e-10 if exact else 1e-4
    for r in result.records:
        if r.loss_diff > limit * max(abs(r.loss_torch), 1e-30) or (exact and r.param_diff > limit):
            return r.step
    return None


def tolerance_ok(result: Comparison, dtype) -> bool:
    """True when every step is within the tolerance for `dtype` (see first_step_over)."""
    return first_step_over(result, dtype) is None
