"""The training doctor's rules: what a run's telemetry and curves say is wrong, each under a stable code.

    found = examine(evidence, "epoch")      # [(Rule, message)] for the rules of that moment not fired before

A rule reads the `Evidence` (training/diagnoses.py) and returns one line (what is wrong, the number that
shows it, the change that usually fixes it) or None. Each fires once per run (`evidence.fired` holds the
codes already reported). Rules run at four moments: "start" (the model's structure), "probe" (after each
sampled step's measurements), "epoch" (after each epoch's metrics) and "stop" (training stopped on
divergence). The thresholds below were calibrated on real runs (docs/RESULTS.md, "The training doctor"):
the healthy recipes stay well inside them, the broken configurations well outside.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

from .diagnoses import NOTE, PROBLEM, Evidence, Rule, Sample
from .telemetry import LayerSpec

UNSCALED_MAX = 20.0        # inputs beyond this are not scaled (pixels reach 255; scaled ones 1, standardised ~3)
CONSTANT_INPUTS = 1e-6     # inputs whose std over a probe's rows is below this (relative) are all the same
WRONG_GRADIENT = 0.01      # gradient check: relative error of the backward pass (correct layers: ~1e-8 in float64)
SATURATED = 0.9            # share of sigmoid/tanh outputs beyond 0.99 of saturation
DEAD = 0.5                 # share of a layer's ReLUs that fire for no probe row
VANISHING = 1e-3           # first layer's gradient RMS over the last layer's
EXPLODING = 1e3            # a gradient's growth since the first probe, in every layer
EXPLODING_GRADIENT = 10.0  # median over layers of gradient RMS / weight RMS (healthy runs: below 1)
IDENTICAL = 1e-3           # spread of a layer's incoming weights and biases below which its units are copies
CORRELATED = 0.95          # units' mean pairwise correlation above which they move as one
LR_LOW = 1e-5              # update ratio (lr x update over the weights) below which weights hardly move
LR_HIGH = 1e-1             # update ratio above which a step rewrites a tenth of the weights
SLOW_FALL = 0.25           # a loss down less than this share of its start has hardly moved (the start is measured
                           # on 256 rows: a few percent either way are noise)
HEALTHY_UPDATE = 1e-3      # the update ratio of a healthy SGD step, the yardstick of the lr messages
CHANCE_FACTOR = 1.5        # accuracy below 1.5 x chance (15% for 10 classes) is at chance
MIN_STEPS = 100            # steps before accuracy at chance means anything
OVERFIT_EPOCHS = 3         # epochs since the best validation loss (training loss still falling): overfitting...
OVERFIT_RISE = 1.05        # ... once validation loss is 5% above its best, not by noise
PROBES_TO_CONFIRM = 2      # consecutive probes a state of the activations or gradients must last
MEMORISING = 0.005         # a training loss this far (nats) below the prior's: the network fits labels from inputs
CANNOT_LEARN = {"symmetric-units", "lr-too-low", "vanishing-gradients", "too-much-dropout",  # explain chance
                "constant-inputs"}
HEAVY_DROPOUT = 0.5        # a dropout rate from which training accuracy can lag far behind
DROPOUT_GAP = 0.15         # ... validation accuracy this far above training accuracy: dropout's noise, not learning


def examine(evidence: Evidence, when: str) -> list[tuple[Rule, str]]:
    """The rules of moment `when` that fire now and have not fired before (recorded in evidence.fired)."""
    found = []
    for rule in RULES:
        if rule.when != when or rule.code in evidence.fired:
            continue
        message = rule.check(evidence)
        if message:
            evidence.fired.add(rule.code)
            found.append((rule, message))
    return found


# ----- helpers ------------------------------------------------------------------------
def _value(sample: Sample, layer: int, name: str) -> float:
    value = sample.layers[layer].get(name, math.nan)
    return float(value) if value is not None else math.nan


def _confirmed(evidence: Evidence, name: str, test: Callable[[float], bool],
               activations: tuple[str, ...] = ()) -> list[tuple[LayerSpec, float]]:
    """Hidden layers (of those activations, if given) whose `name` passes `test` at each of the last probes:
    (layer, the latest value)."""
    recent = evidence.recent(PROBES_TO_CONFIRM)
    hits = []
    for spec in evidence.dense[:-1]:
        if activations and spec.activation not in activations:
            continue
        values = [_value(s, spec.index, name) for s in recent]
        if values and not any(map(math.isnan, values)) and all(map(test, values)):
            hits.append((spec, values[-1]))
    return hits


def _names(specs: list[LayerSpec]) -> str:
    """"layer 2", "layers 1 and 2", "layers 2-11"."""
    numbers = [spec.index for spec in specs]
    if len(numbers) == 1:
        return f"layer {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) > 2:
        return f"layers {numbers[0]}-{numbers[-1]}"
    return "layers " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def update_ratios(sample: Sample) -> list[float]:
    """The Dense layers' update ratios at a probe (those measured)."""
    return [v for v in (_value(sample, i, "update_ratio") for i in range(1, len(sample.layers))) if not math.isnan(v)]


def median_update(sample: Sample) -> float:
    """The median over the Dense layers of the update ratio at a probe (NaN without any)."""
    values = update_ratios(sample)
    return statistics.median(values) if values else math.nan


def _inputs_unscaled(evidence: Evidence) -> float | None:
    """The largest input value of the latest probe when it is beyond UNSCALED_MAX, else None."""
    if not evidence.samples:
        return None
    largest = _value(evidence.samples[-1], 0, "max")
    return largest if largest > UNSCALED_MAX else None


def _chance_limit(evidence: Evidence) -> float:
    return CHANCE_FACTOR / evidence.classes


def _steps(evidence: Evidence) -> int:
    """Optimizer steps taken so far (from the probes, else from the epochs)."""
    from_epochs = len(evidence.epochs) * evidence.steps_per_epoch
    return max(evidence.samples[-1].step if evidence.samples else 0, from_epochs)


def _suggested_lr(lr: float, ratio: float) -> str:
    """A learning rate that would give updates near HEALTHY_UPDATE, as a power of ten."""
    if not (ratio > 0 and lr > 0 and math.isfinite(ratio)):
        return f"{lr / 10:g}"
    return f"{10 ** round(math.log10(lr * HEALTHY_UPDATE / ratio)):g}"


# ----- rules at the start -----------------------------------------------------------------
def double_softmax(evidence: Evidence) -> str | None:
    if not evidence.double_softmax:
        return None
    return ("the network ends in a Softmax layer and the loss applies softmax again (softmax applied twice): the "
            "outputs it sees are squashed into a narrow range and the gradients shrink: remove the last Softmax "
            "layer (the loss takes logits)")


# ----- rules at a probe -------------------------------------------------------------------------
def unscaled_inputs(evidence: Evidence) -> str | None:
    largest = _inputs_unscaled(evidence)
    if largest is None:
        return None
    inputs = evidence.samples[-1].layers[0]
    return (f"inputs reach {largest:.4g} (mean {inputs['mean']:.3g}, std {inputs['std']:.3g}): networks are "
            f"initialised for inputs of about unit size: scale them to [0, 1] (data.scale = \"unit\", or pass "
            f"the uint8 images)")


def constant_inputs(evidence: Evidence) -> str | None:
    if not evidence.samples:
        return None
    inputs = evidence.samples[-1].layers[0]
    spread, level = float(inputs.get("std", math.nan)), abs(float(inputs.get("mean", math.nan)))
    if not spread <= CONSTANT_INPUTS * max(level, 1.0):
        return None
    return (f"every input the network sees is the same (std {spread:.1e} over the probe's rows, mean {level:.3g}): "
            f"it has nothing to tell one image from another by: check how the data is loaded")


def wrong_gradients(evidence: Evidence) -> str | None:
    if not evidence.samples:
        return None
    sample = evidence.samples[-1]
    wrong = [(spec, _value(sample, spec.index, "gradient_error")) for spec in evidence.dense
             if _value(sample, spec.index, "gradient_error") >= WRONG_GRADIENT]
    if not wrong:
        return None
    worst = max(error for _, error in wrong)
    return (f"the backward pass disagrees with the loss itself for {_names([spec for spec, _ in wrong])} (relative "
            f"error {worst:.2g} against finite differences; a correct one: ~1e-8): a layer's derivative is "
            f"wrong (a hand-written backward?): gradient-check each custom layer (as tests/test_layers.py does)")


def saturated_units(evidence: Evidence) -> str | None:
    hits = _confirmed(evidence, "saturated", lambda v: v >= SATURATED, ("sigmoid", "tanh"))
    if not hits:
        return None
    specs = [spec for spec, _ in hits]
    worst = max(value for _, value in hits)
    kinds = "/".join(dict.fromkeys(spec.activation for spec in specs))
    what = f"{_names(specs)}'s {kinds} units are saturated ({worst:.0%} beyond 0.99)"
    largest = _inputs_unscaled(evidence)
    if largest is not None and specs[0].index == 1:
        return f"{what} because inputs reach {largest:.4g}: scale them to [0, 1] (data.scale = \"unit\")"
    return (f"{what}: their derivative is ~0 and they stop learning: use smaller initial weights "
            f"(model.init = \"glorot_uniform\") or a lower learning rate")


def dead_relus(evidence: Evidence) -> str | None:
    sample = evidence.samples[-1] if evidence.samples else None
    hits = [(spec, value) for spec, value in _confirmed(evidence, "dead", lambda v: v >= DEAD, ("relu",))
            if sample is not None and not _value(sample, spec.index, "spread") < IDENTICAL]  # copies: symmetric-units
    if not hits:
        return None
    specs, worst = [spec for spec, _ in hits], max(value for _, value in hits)
    ratio = median_update(evidence.samples[-1])
    cause = (f" after steps with an update ratio of {ratio:.1e} (healthy: about {HEALTHY_UPDATE:g}): lower the "
             f"learning rate"
             if ratio > LR_HIGH else ": lower the learning rate, or use he_normal init or leaky_relu")
    return (f"{worst:.0%} of {_names(specs)}'s ReLUs never fire (on any of the probe's images) and so get no "
            f"gradient{cause}")


def vanishing_gradients(evidence: Evidence) -> str | None:
    if len(evidence.dense) < 3:
        return None
    first, last = evidence.dense[0].index, evidence.dense[-1].index
    if _confirmed(evidence, "dead", lambda v: v >= DEAD, ("relu",)):
        return None  # dead units stop the gradient: dead-relus says so
    ratios = [_value(s, first, "grad_rms") / _value(s, last, "grad_rms") for s in evidence.recent(PROBES_TO_CONFIRM)
              if _value(s, last, "grad_rms") > 0 and _value(s, first, "grad_rms") > 0]
    if len(ratios) < PROBES_TO_CONFIRM or not all(r < VANISHING for r in ratios):
        return None
    sample = evidence.samples[-1]
    kinds = "/".join(dict.fromkeys(spec.activation for spec in evidence.dense[:-1]))
    return (f"layer {first}'s gradient RMS ({_value(sample, first, 'grad_rms'):.1e}) is {ratios[-1]:.0e} times "
            f"layer {last}'s ({_value(sample, last, 'grad_rms'):.1e}): the gradient vanishes on its way down "
            f"through {len(evidence.dense) - 1} {kinds} layers: use relu with he_normal init, or fewer layers")


def gradient_sizes(evidence: Evidence, sample: Sample) -> list[float]:
    """Each Dense layer's gradient RMS over its weight RMS at a probe (a summed loss's gradients per row)."""
    sizes = [_value(sample, spec.index, "grad_rms") / _value(sample, spec.index, "weight_rms") / evidence.gradient_scale
             for spec in evidence.dense if _value(sample, spec.index, "weight_rms") > 0]
    return [size for size in sizes if not math.isnan(size)]


def _amplifies(evidence: Evidence) -> bool:
    """Whether the run's first probe found gradients EXPLODING_GRADIENT times the weights (median over layers)."""
    sizes = gradient_sizes(evidence, evidence.samples[0]) if evidence.samples else []
    return bool(sizes) and statistics.median(sizes) >= EXPLODING_GRADIENT


def exploding_gradients(evidence: Evidence) -> str | None:
    if not evidence.samples or _inputs_unscaled(evidence) is not None:  # unscaled-inputs names that cause
        return None
    sample, first = evidence.samples[-1], evidence.samples[0]
    for spec in evidence.dense:
        value = _value(sample, spec.index, "grad_rms")
        if not math.isfinite(value) and not math.isnan(value):
            return (f"layer {spec.index}'s gradient is infinite at step {sample.step}: lower the learning rate, "
                    f"or clip the gradients (optimizer.clipnorm = 1.0)")
    if len(evidence.samples) == 1 and _amplifies(evidence):  # the network itself, before the lr has moved it far
        sizes = gradient_sizes(evidence, sample)
        return (f"the gradients are {statistics.median(sizes):.0f} times the weights they update (median over "
                f"layers; healthy: below 1): the network amplifies them layer by layer, its weights too large for "
                f"its depth: use a smaller init (model.init = \"he_normal\"), or clip them (optimizer.clipnorm = 1.0)")
    recent = evidence.recent(PROBES_TO_CONFIRM)
    grown = [(spec, _value(s, spec.index, "grad_rms") / _value(first, spec.index, "grad_rms"))
             for spec in evidence.dense for s in recent if _value(first, spec.index, "grad_rms") > 0]
    if len(grown) >= PROBES_TO_CONFIRM * len(evidence.dense) and all(g > EXPLODING for _, g in grown):
        return (f"gradients grew {min(g for _, g in grown):.0e} times since step {first.step} in every layer: "
                f"training is unstable: lower the learning rate, or clip the gradients (optimizer.clipnorm = 1.0)")
    return None


def symmetric_units(evidence: Evidence) -> str | None:
    if not evidence.samples:
        return None
    sample = evidence.samples[-1]
    hidden = [spec for spec in evidence.dense[:-1] if spec.units >= 4]
    copies = [spec for spec in hidden if _value(sample, spec.index, "spread") < IDENTICAL]
    if copies:
        return (f"the units of {_names(copies)} are identical (their weights and biases differ by "
                f"{max(_value(sample, s.index, 'spread') for s in copies):.0e} of their size, as after a zero or "
                f"constant init): they get the same gradient and stay copies: use a random init "
                f"(model.init = \"he_normal\")")
    hits = _confirmed(evidence, "correlation", lambda v: v >= CORRELATED)
    if not hits:
        return None
    return (f"the units of {_names([spec for spec, _ in hits])} move as one (mean correlation "
            f"{min(v for _, v in hits):.3f} across images): they carry one signal between them, as after an "
            f"all-positive or constant init: use a zero-mean random init (model.init = \"he_normal\")")


# ----- rules at the end of an epoch ---------------------------------------------------------------
def stuck_at_chance(evidence: Evidence) -> str | None:
    if not evidence.epochs or _steps(evidence) < MIN_STEPS:
        return None
    logs = evidence.epochs[-1]
    accuracies = [logs[key] for key in ("accuracy", "val_accuracy") if key in logs]
    if not all(a < _chance_limit(evidence) for a in accuracies):
        return None
    others = " (see the other diagnoses)" if evidence.fired - {"stuck-at-chance"} else ""
    return (f"training accuracy is {logs['accuracy']:.1%} after epoch {logs['epoch']}, chance for "
            f"{evidence.classes} classes: the network has learned nothing{others}")


def lr_too_low(evidence: Evidence) -> str | None:
    start = evidence.start_loss
    if not evidence.epochs or not evidence.samples or start is None:
        return None
    # the fastest layer's update ratio: one layer moving well means the lr is not what holds the others back
    ratios = [max(update_ratios(s), default=math.nan) for s in evidence.samples]
    if not all(0 < r < LR_LOW for r in ratios):  # no update at all is no gradient (dead or copied units), not the lr
        return None
    loss = evidence.epochs[-1]["loss"]
    fall = (start - loss) / start if start > 0 else 0.0
    if fall > SLOW_FALL:
        return None
    lr, moved = evidence.samples[-1].lr, f"fell {fall:.1%}" if fall > 0 else "did not fall"
    return (f"the update ratio (how far a step moves the weights, over their size) is at most {max(ratios):.1e} "
            f"(healthy: about {HEALTHY_UPDATE:g}) and the loss {moved} in {len(evidence.epochs)} epoch(s): "
            f"raise the learning rate (optimizer.lr = {_suggested_lr(lr, max(ratios))})")


def lr_too_high(evidence: Evidence) -> str | None:
    if len(evidence.epochs) < 2:
        return None
    previous, last = evidence.epochs[-2], evidence.epochs[-1]
    ratios = [median_update(s) for s in evidence.epoch_samples(last["epoch"])]
    ratio = statistics.median(ratios) if ratios else math.nan
    if not (last["loss"] > 1.1 * previous["loss"] and ratio > LR_HIGH):
        return None
    return (f"the training loss rose from {previous['loss']:.4g} to {last['loss']:.4g} in epoch {last['epoch']} "
            f"with an update ratio of {ratio:.1e} (healthy: about {HEALTHY_UPDATE:g}): "
            f"lower the learning rate tenfold (optimizer.lr = {last.get('lr', math.nan) / 10:g})")


def too_much_dropout(evidence: Evidence) -> str | None:
    if evidence.dropout < HEAVY_DROPOUT or not evidence.epochs or _steps(evidence) < MIN_STEPS:
        return None
    logs = evidence.epochs[-1]
    validation = logs.get("val_accuracy", math.nan)
    if not (logs["accuracy"] < _chance_limit(evidence) or validation - logs["accuracy"] >= DROPOUT_GAP):
        return None
    seen = f" (validation {validation:.1%})" if math.isfinite(validation) else ""
    return (f"dropout drops {evidence.dropout:.0%} of the units at every step and training accuracy is "
            f"{logs['accuracy']:.1%} after epoch {logs['epoch']}{seen}: the network learns little through that much "
            f"noise: lower the rate (model.dropout = 0.2 to 0.5)")


def label_noise(evidence: Evidence) -> str | None:
    if not evidence.epochs or _steps(evidence) < MIN_STEPS:
        return None
    logs, prior = evidence.epochs[-1], evidence.prior_loss
    judged = "val_accuracy" if "val_accuracy" in logs else "accuracy"  # what generalises, where it can be seen
    if logs[judged] >= _chance_limit(evidence) or evidence.fired & CANNOT_LEARN:
        return None
    ratios = [median_update(s) for s in evidence.epoch_samples(logs["epoch"])]
    if not ratios or statistics.median(ratios) < LR_LOW * 10 or not logs["loss"] < prior - MEMORISING:
        return None
    where = "validation" if judged == "val_accuracy" else "training"
    return (f"{where} accuracy stays at chance ({logs[judged]:.1%} after epoch {logs['epoch']}) while the training "
            f"loss falls below that of guessing the class frequencies ({logs['loss']:.4f} < {prior:.4f}): the "
            f"network memorises labels its inputs do not explain: check that each label belongs to its image "
            f"(shuffled or noisy labels)")


def overfitting(evidence: Evidence) -> str | None:
    rows = [row for row in evidence.epochs if "val_loss" in row]
    if len(rows) <= OVERFIT_EPOCHS:
        return None
    best = min(rows, key=lambda row: row["val_loss"])
    last = rows[-1]
    since = last["epoch"] - best["epoch"]
    if not (since >= OVERFIT_EPOCHS and last["val_loss"] >= OVERFIT_RISE * best["val_loss"]
            and last["loss"] < best["loss"]):
        return None
    return (f"validation loss is {last['val_loss'] / best['val_loss'] - 1:.0%} above its best ({best['val_loss']:.4g} "
            f"after epoch {best['epoch']}, {last['val_loss']:.4g} now) while training loss fell "
            f"({best['loss']:.4g} -> {last['loss']:.4g}): the network is memorising the training set: stop earlier "
            f"(train.early_stopping = {OVERFIT_EPOCHS}) or regularise (model.dropout, optimizer.weight_decay)")


# ----- rules when training stopped on divergence ------------------------------------------------------
def diverged(evidence: Evidence) -> str | None:
    """lr-too-high at divergence: the loss blew up (the Trainer's message says where)."""
    if not evidence.stopped or _amplifies(evidence):  # the network's own gradients, named by exploding-gradients
        return None
    ratios = [r for r in map(median_update, evidence.samples) if math.isfinite(r)]
    lr = evidence.samples[-1].lr if evidence.samples else math.nan
    shown = f" after steps with an update ratio up to {max(ratios):.1e} (healthy: about {HEALTHY_UPDATE:g})" \
        if ratios else ""
    lower = f" (optimizer.lr = {lr / 10:g})" if math.isfinite(lr) else ""
    return f"training diverged ({evidence.stopped.split(':')[0]}){shown}: lower the learning rate tenfold{lower}"


RULES: list[Rule] = [
    Rule("double-softmax", PROBLEM, "start", double_softmax, "the last layer gives probabilities and the loss "
         "applies softmax itself"),
    Rule("unscaled-inputs", PROBLEM, "probe", unscaled_inputs, f"the probe's largest input, in absolute value, > "
         f"{UNSCALED_MAX:g}"),
    Rule("constant-inputs", PROBLEM, "probe", constant_inputs, f"the probe's inputs have a std below "
         f"{CONSTANT_INPUTS:g} x max(abs(mean), 1): every row the same"),
    Rule("wrong-gradients", PROBLEM, "probe", wrong_gradients, f"at the first probe, on a float64 copy of the model, "
         f"the derivative of the loss along random directions of a layer's W, backward pass against finite "
         f"differences: relative error >= {WRONG_GRADIENT:g}"),
    Rule("saturated-units", PROBLEM, "probe", saturated_units, f"a sigmoid/tanh layer with >= {SATURATED:.0%} of its "
         f"outputs beyond 0.99, at {PROBES_TO_CONFIRM} probes in a row"),
    Rule("dead-relus", PROBLEM, "probe", dead_relus, f">= {DEAD:.0%} of a ReLU layer's units silent on every probe "
         f"row, at {PROBES_TO_CONFIRM} probes in a row"),
    Rule("symmetric-units", PROBLEM, "probe", symmetric_units, f"a hidden layer's weights and biases equal across "
         f"units (spread < {IDENTICAL:g}), or its units' mean correlation >= {CORRELATED} at "
         f"{PROBES_TO_CONFIRM} probes in a row"),
    Rule("vanishing-gradients", PROBLEM, "probe", vanishing_gradients, f"first layer's gradient RMS < {VANISHING:g} "
         f"x the last layer's at {PROBES_TO_CONFIRM} probes in a row (3+ Dense layers)"),
    Rule("exploding-gradients", PROBLEM, "probe", exploding_gradients, f"an infinite gradient; or, at the run's first "
         f"probe, gradient RMS >= {EXPLODING_GRADIENT:g} x weight RMS (median over layers, per row for a summed "
         f"loss); or every layer's "
         f"gradient RMS > {EXPLODING:g} x its first probe's, at {PROBES_TO_CONFIRM} probes in a row"),
    Rule("lr-too-low", PROBLEM, "epoch", lr_too_low, f"every probe's largest update ratio < {LR_LOW:g} and the loss "
         f"down less than {SLOW_FALL:.0%} from its start"),
    Rule("lr-too-high", PROBLEM, "epoch", lr_too_high, f"epoch loss up > 10% with a median update ratio > "
         f"{LR_HIGH:g}"),
    Rule("lr-too-high", PROBLEM, "stop", diverged, "the loss turned NaN/inf or exploded (TrainingDiverged), "
         "unless the first probe's gradients were exploding-gradients' (the network's, not the lr's)"),
    Rule("too-much-dropout", PROBLEM, "epoch", too_much_dropout, f"a dropout rate >= {HEAVY_DROPOUT:g} and "
         f"training accuracy at chance or {DROPOUT_GAP:.0%} below validation accuracy, after {MIN_STEPS}+ steps"),
    Rule("label-noise-or-shuffled-labels", PROBLEM, "epoch", label_noise, f"validation (else training) accuracy < "
         f"{CHANCE_FACTOR} x chance after {MIN_STEPS}+ steps while the training loss is {MEMORISING:g} below that of "
         f"guessing the class "
         f"frequencies, layers updating (median update ratio >= {LR_LOW * 10:g}), none of "
         f"{', '.join(sorted(CANNOT_LEARN))}"),
    Rule("stuck-at-chance", PROBLEM, "epoch", stuck_at_chance, f"training (and validation) accuracy < "
         f"{CHANCE_FACTOR} x chance after {MIN_STEPS}+ steps"),
    Rule("overfitting", NOTE, "epoch", overfitting, f"validation loss {OVERFIT_RISE - 1:.0%} above its best, "
         f"{OVERFIT_EPOCHS}+ epochs after it, training loss lower than then"),
]
CODES = list(dict.fromkeys(rule.code for rule in RULES))
