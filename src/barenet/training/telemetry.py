"""Per-layer telemetry of training, measured at a few sampled steps per epoch (what the training doctor reads).

    plan = sample_plan(steps=430, batch_size=128)   # {batch: True at a probe, False: only its rows kept}
    probe = Probe(model)                             # the layers to watch: input, then every Dense layer
    rows = probe.measure(x_rows, step)               # one dict of host floats per layer (0 = the input)

At a probe step (a training `Step` carrying its gradients and the weights before the update) each
layer gets (NaN where a number does not apply):

    mean, std, max        of its outputs after its activation over the probe rows (max: the largest |value|)
    dead                  ReLU layers: the share of units that fire for none of the probe rows
    saturated             sigmoid and tanh layers: the share of outputs beyond 0.99 of saturation
                          (a sigmoid above 0.99 or below 0.01, a tanh beyond +-0.99)
    correlation           the units' mean pairwise correlation over the probe rows (1: they move as one);
                          NaN when under a quarter of the units (or under 4) vary at all
    spread                how much the units' incoming weights and biases differ: RMS of (W, b) minus their
                          mean over units, over RMS of (W, b) (0: identical units, as after a zero or constant init)
    grad_rms, bias_grad_rms   RMS of the step's gradient of W and of b
    weight_rms            RMS of W after the update
    update_ratio          RMS(W after - W before) / RMS(W before): lr x update over the weights
    gradient_error        at the run's first probe only: how far the backward pass's derivative of the loss along
                          random directions of W is from the finite difference of the loss, in float64
                          (`gradient_errors`; a correct layer ~1e-8, a wrong derivative tenths)

The probe rows are the step's batch (its first PROBE_ROWS rows) put through the model again in
inference mode: one extra forward of at most 256 rows per probe, the cost of about a third of a
training step of 128 rows. Batches under MIN_ROWS rows are too few to say whether a unit ever fires:
the rows of the steps just before the probe (the plan's False entries) are kept and join it.
Everything is computed with the model's array module (NumPy or CuPy) and read to the host once
per probe; the steps that are not sampled cost nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import kernels
from ..nn.layers import LeakyReLU, ReLU, Sigmoid, Tanh

PER_EPOCH = 4      # probes per epoch
MIN_GAP = 8        # ... but at most one per this many steps, so short epochs are not mostly probes
MIN_ROWS = 64      # rows a probe needs: smaller batches join the rows of the steps before
PROBE_ROWS = 256   # rows put through the extra forward, at most
CHECK_ROWS = 32    # rows of the one gradient check, at a run's first probe
CHECK_CHANGE = 1e-8  # the loss moves this share of itself in the check's finite differences (float64)...
CHECK_STEP = 1e-4    # ... by moving the weights at most this share of their size
CHECK_RESOLVED = 1e-11  # a predicted change below this share of the loss is lost in rounding: not checked
CHECK_DIRECTIONS = 2  # random directions per layer; the smaller error counts (a wrong derivative is off in both)
STATS = ("mean", "std", "max", "dead", "saturated", "correlation", "spread", "grad_rms", "bias_grad_rms",
         "weight_rms", "update_ratio", "gradient_error")
NAN = float("nan")


@dataclass(frozen=True)
class LayerSpec:
    """A watched layer: `index` 0 for the input, 1.. for the Dense layers in order; `activation` the one
    after it ("relu", "leaky_relu", "sigmoid", "tanh", "softmax", "identity"; "input" for layer 0)."""

    index: int
    activation: str
    units: int


def sample_plan(steps: int, batch_size: int, per_epoch: int = PER_EPOCH) -> dict[int, bool]:
    """The sampled batches of an epoch of `steps` batches: {batch: True} at each of `per_epoch` probes (at most
    one per MIN_GAP steps, at least one) spread evenly over the epoch, the first at its start; {batch: False}
    for the steps just before a probe whose rows join it (when batches are under MIN_ROWS rows)."""
    probes = max(1, min(per_epoch, steps // MIN_GAP))
    gap = steps / probes
    window = max(1, min(math.ceil(MIN_ROWS / max(batch_size, 1)), int(gap)))
    plan: dict[int, bool] = {}
    for i in range(probes):
        start = int(i * gap)
        plan.update({batch: False for batch in range(start, start + window - 1)})
        plan[start + window - 1] = True
    return plan


ACTIVATION_NAMES = ((ReLU, "relu"), (LeakyReLU, "leaky_relu"), (Sigmoid, "sigmoid"), (Tanh, "tanh"))


def activation_name(layer) -> str | None:
    """The activation a layer applies ("relu", "sigmoid", ..., "softmax"; a subclass with a derivative of its own
    too), or None for other layers."""
    found = next((name for cls, name in ACTIVATION_NAMES if isinstance(layer, cls)), None)
    return found or ("softmax" if getattr(layer, "gives_probabilities", False) else None)


class Probe:
    """The watched layers of a `Sequential` (its Dense layers and the activation after each) and their
    measurements at a probe step."""

    def __init__(self, model):
        self.model, self.xp = model, model.backend.xp
        self.classes = max(2, int(model.out_features or 2))
        self.taps: list[int] = []  # position in model.layers whose output is each Dense layer's
        kinds: list[str] = []
        self.dense = [layer for layer in model.layers if "W" in layer.params]
        for position, layer in enumerate(model.layers):
            if "W" not in layer.params:
                continue
            after = model.layers[position + 1] if position + 1 < len(model.layers) else None
            kind = activation_name(after) if after is not None else None
            self.taps.append(position + 1 if kind else position)
            kinds.append(kind or "identity")
        self.layers = [LayerSpec(0, "input", int(model.in_features or 0))] + [
            LayerSpec(i + 1, kind, int(layer.params["W"].shape[1])) for i, (kind, layer) in
            enumerate(zip(kinds, self.dense))]
        # where each Dense layer's W and b sit in model.parameters() (layer order, W before b)
        self._slots: list[tuple[int, int | None]] = []
        slot = 0
        for layer in model.layers:
            if "W" in layer.params:
                self._slots.append((slot, slot + 1 if "b" in layer.params else None))
            slot += len(layer.params)

    def outputs(self, rows) -> list:
        """Each Dense layer's outputs after its activation, (rows, units), in inference mode."""
        taps, found, h = set(self.taps), {}, rows
        for position, layer in enumerate(self.model.layers):
            h = layer.forward(h, False)
            if position in taps:
                found[position] = h
            if len(found) == len(taps):
                break
        return [found[position] for position in self.taps]

    def measure(self, rows, gradients: list | None, weights_before: list | None, targets=None,
                check: bool = False) -> tuple[list[dict], list[int]]:
        """One dict per watched layer (STATS as host floats, NaN where they do not apply) for the probe rows
        (batch, features) on the model's device, the step's gradients and the weights before it; and the class
        counts of the rows' `targets` (ids (batch,) or rows (batch, classes); [] without), all read to the host
        at once. `check`: the gradient check too (`gradient_errors`, which needs the targets)."""
        xp = self.xp
        checked = self.gradient_errors(rows, targets) if check else [NAN] * len(self.dense)
        with np.errstate(all="ignore"):  # a diverging net's infinities are what is measured
            cells: list[Any] = list(_activation_stats(xp, rows[:PROBE_ROWS], "input"))
            for spec, h in zip(self.layers[1:], self.outputs(rows[:PROBE_ROWS])):
                cells += _activation_stats(xp, h, spec.activation)
            for index, (w_slot, b_slot) in enumerate(self._slots):
                cells += self._parameter_stats(index, w_slot, b_slot, gradients, weights_before)
            parts = [xp.stack([xp.asarray(c, dtype=xp.float64) for c in cells])]
            if targets is not None:
                parts.append(_class_counts(xp, targets, self.classes).astype(xp.float64))
            values = [float(v) for v in self.model.backend.to_numpy(xp.concatenate(parts))]
        measured = _rows(self.layers, values[:len(cells)])
        for row, error in zip(measured[1:], checked):
            row["gradient_error"] = error
        return measured, [int(v) for v in values[len(cells):]]

    def gradient_errors(self, rows, targets) -> list[float]:
        """For each Dense layer, the backward pass checked against the loss itself: the relative difference
        |a - n| / max(|a|, |n|) between the derivative of the loss along a random direction of W from the
        gradients (a) and from central finite differences (n), the smaller over CHECK_DIRECTIONS directions
        (NaN where the derivative is 0 or too small to resolve), on the first CHECK_ROWS rows. It runs on a
        float64 copy of the model (its generator and its dropout counters reset before every pass, so that every
        pass draws the same masks; the NumPy reference kernels, so no float64 loop is compiled),
        where a correct layer agrees to ~1e-8 (so small a step crosses no ReLU's kink) and a wrong derivative is
        off by tenths; the model is not touched."""
        twin = float64_copy(self.model)
        xp = self.xp
        rows = rows[:CHECK_ROWS].astype(xp.float64)
        targets = targets[:CHECK_ROWS]
        targets = targets.astype(xp.float64) if targets.dtype.kind == "f" else targets
        start, layers_start = twin.rng.bit_generator.state, twin.random_state()

        def rewind() -> None:
            twin.rng.bit_generator.state = start
            twin.load_random_state(layers_start)

        def loss_now() -> float:
            rewind()
            return float(twin.loss.forward(twin.forward_to_loss(rows), targets))

        # the twin computes with the NumPy reference kernels on the CPU (`float64_copy`): a few passes over 64 rows,
        # not worth compiling float64 fused loops for
        with np.errstate(all="ignore"):
            rewind()
            loss = float(twin.compute_gradients(rows, targets)[0])
            directions = np.random.default_rng(0)
            dense = [layer for layer in twin.layers if "W" in layer.params]
            return [_checked(xp, layer, loss, loss_now, directions) for layer in dense]

    def _parameter_stats(self, index: int, w_slot: int, b_slot: int | None, gradients, before) -> list:
        """spread, grad_rms, bias_grad_rms, weight_rms, update_ratio of the Dense layer `index` (from 0)."""
        xp, layer = self.xp, self.dense[index]
        W, b = layer.params["W"], layer.params.get("b")
        nan = xp.asarray(NAN)
        grad = _rms(xp, gradients[w_slot]) if gradients is not None else nan
        bias_grad = _rms(xp, gradients[b_slot]) if gradients is not None and b_slot is not None else nan
        weight = _rms(xp, W)
        update = _rms(xp, W - before[w_slot]) / _rms(xp, before[w_slot]) if before is not None else nan
        return [_spread(xp, W, b), grad, bias_grad, weight, update]


def float64_copy(model):
    """A deep copy of `model` computing in float64 (parameters and gradients cast; buffers follow), for checks;
    on the CPU its layers and loss compute with the NumPy reference kernels."""
    import copy
    import dataclasses

    # replaced, not copied: the backend (NumPy arrays: the same with the reference kernels, so that no float64
    # variants are compiled mid-run; a GPU's as it is); shared: the optimizer (never stepped here); left out: the
    # History (and the trainer and callbacks it leads to). The generator is copied: the check draws from its own.
    backend = dataclasses.replace(model.backend, kernels=kernels.reference()) if model.backend.xp is np \
        else model.backend
    shared = {id(model.backend): backend, id(model.optimizer): model.optimizer, id(model.history): None}
    twin = copy.deepcopy(model, memo=shared)
    xp = model.backend.xp
    for layer in twin.layers:
        for key in list(layer.params):
            layer.params[key] = xp.array(layer.params[key], dtype=xp.float64)
            layer.grads[key] = xp.zeros_like(layer.params[key])
    return twin


def _checked(xp, layer, loss: float, loss_now, directions: np.random.Generator) -> float:
    """The smaller relative error of the layer's W gradient along CHECK_DIRECTIONS random directions."""
    W = layer.params["W"]
    original, found = W.copy(), []
    scale = float(xp.sqrt(xp.mean(xp.square(original)))) or 1.0
    for _ in range(CHECK_DIRECTIONS):
        direction = xp.asarray(directions.standard_normal(W.shape, dtype=np.float32), dtype=W.dtype) * scale
        analytic = float(xp.vdot(layer.grads["W"].ravel(), direction.ravel()))
        if not (math.isfinite(analytic) and math.isfinite(loss) and analytic != 0):
            continue
        eps = min(CHECK_CHANGE * max(abs(loss), 1e-3) / abs(analytic), CHECK_STEP)
        if eps * abs(analytic) < CHECK_RESOLVED * max(abs(loss), 1e-3):  # a vanished gradient: nothing to compare
            continue
        ends = []
        for sign in (1.0, -1.0):
            W[...] = original + sign * eps * direction
            ends.append(loss_now())
        W[...] = original
        numeric = (ends[0] - ends[1]) / (2 * eps)
        found.append(abs(analytic - numeric) / max(abs(analytic), abs(numeric)))
    return min(found) if found else NAN


def _class_counts(xp, targets, classes: int):
    """How many rows of each class: targets are ids (B,), or rows (B, classes) (one-hot or smoothed; a single
    sigmoid output's 0/1)."""
    if targets.ndim == 2:
        targets = targets.argmax(axis=1) if targets.shape[1] > 1 else targets[:, 0] > 0.5
    return xp.bincount(targets.astype(xp.int64), minlength=classes)[:classes]


def _rms(xp, a):
    """RMS of an array, as a 0-d float64 array on its device (a dot product in the array's dtype: no copy)."""
    flat = a.reshape(-1)
    return xp.sqrt(_dot(xp, flat, flat) / max(flat.size, 1))


def _spread(xp, W, b):
    """RMS of (W, b) less their mean over units, over RMS of (W, b): W (in, units), b (units,) or None.
    Dot products in the arrays' dtype: one temporary, no float64 copy of the weights."""
    deviation = (W - W.mean(axis=1, keepdims=True)).reshape(-1)
    spread, total = _dot(xp, deviation, deviation), _dot(xp, W.reshape(-1), W.reshape(-1))
    if b is not None:
        spread, total = spread + _dot(xp, b - b.mean(), b - b.mean()), total + _dot(xp, b, b)
    return xp.sqrt(spread / xp.maximum(total, 1e-300))


def _dot(xp, a, b):
    return xp.asarray(xp.vdot(a, b), dtype=xp.float64)


def _activation_stats(xp, h, kind: str) -> list:
    """mean, std, max |h|, dead, saturated, correlation of outputs h (rows, units) of a `kind` activation."""
    h = h.astype(xp.float64)  # (rows <= PROBE_ROWS, units): small; float64 keeps near-constant columns apart
    nan = xp.asarray(NAN)
    dead = xp.mean(h.max(axis=0) <= 0) if kind == "relu" else nan
    if kind == "sigmoid":
        saturated = xp.mean((h > 0.99) | (h < 0.01))
    elif kind == "tanh":
        saturated = xp.mean(xp.abs(h) > 0.99)
    else:
        saturated = nan
    correlation = _correlation(xp, h) if kind != "input" else nan
    return [h.mean(), h.std(), xp.abs(h).max(), dead, saturated, correlation]


def _correlation(xp, h):
    """The mean pairwise correlation of the columns of h (rows, units) that vary, from the variance of their
    standardised mean: var(mean of u standardised columns) = (1 + (u - 1) r) / u. NaN under max(4, units/4)
    varying columns. No boolean indexing (nothing waits on a device), one temporary."""
    centered = h - h.mean(axis=0)
    sd = xp.sqrt(xp.einsum("ij,ij->j", centered, centered) / h.shape[0])
    varying = sd > 1e-6 * xp.maximum(sd.max(), 1e-300)
    count = varying.sum()
    mean_of_z = centered @ (varying / xp.where(varying, sd, 1.0)) / xp.maximum(count, 1)
    r = (count * xp.mean(xp.square(mean_of_z)) - 1.0) / xp.maximum(count - 1, 1)
    return xp.where(count >= max(4, h.shape[1] / 4), r, NAN)


def _rows(layers: list[LayerSpec], values: list[float]) -> list[dict]:
    """The flat measurements (6 activation numbers per layer, then 5 parameter numbers per Dense layer) as
    one dict per layer."""
    activations, parameters = values[:6 * len(layers)], values[6 * len(layers):]
    rows = []
    for i, spec in enumerate(layers):
        row = dict(zip(STATS[:6], activations[6 * i:6 * i + 6]))
        row.update(zip(STATS[6:11], parameters[5 * (i - 1):5 * i] if i else [NAN] * 5))
        row["gradient_error"] = NAN
        rows.append({"layer": spec.index, "activation": spec.activation, "units": spec.units, **row})
    return rows
