"""The training doctor: a callback that watches a run and says why the network is not learning, as it trains.

    doctor = Doctor(report=lambda d: print(d.line()))     # Sequential.fit adds one (diagnose=False: none)
    model.fit(x, y, epochs=10, callbacks=[doctor])
    history.diagnoses                                     # [Diagnosis(code="dead-relus", severity="problem", ...)]
    doctor.health                                         # the telemetry: one dict per probe and layer

At PER_EPOCH sampled steps per epoch (`telemetry.sample_plan`) it measures every layer of a
`Sequential` (`telemetry.Probe`), then runs the rules (`training/rules.py`) over the probes and,
after each epoch, over the curves. A rule fires once per run; each finding goes to `history.diagnoses` and to
`report`. Steps it does not sample cost nothing: the Trainer neither copies nor reads anything
for it there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import TrainingDiverged
from .callbacks import Callback, Step
from .diagnoses import PROBLEM, Diagnosis, Evidence, Sample
from .rules import examine
from .telemetry import PER_EPOCH, Probe, sample_plan

HEALTH_KEYS = ("step", "epoch", "batch", "loss", "lr")


class Doctor(Callback):
    """Per-layer telemetry at `per_epoch` steps per epoch, and the diagnoses it supports.

    report   called with each Diagnosis as it fires (None: only kept, on `diagnoses` and the History)
    health   the telemetry rows so far: {"step", "epoch" (from 1), "batch", "loss", "lr", "layer",
             "activation", "units", "mean", ...} (see `telemetry`), one per probe and watched layer; a resumed
             run sets it to the rows of the epochs its checkpoint holds before training goes on
    """

    def __init__(self, per_epoch: int = PER_EPOCH, report: Callable[[Diagnosis], Any] | None = None):
        self.per_epoch, self.report = int(per_epoch), report
        self.diagnoses: list[Diagnosis] = []
        self.health: list[dict] = []
        self.evidence: Evidence | None = None
        self._rows: list = []  # the rows (and targets) of the steps before a probe, for batches under MIN_ROWS
        self._targets: list = []
        self._batch_size = 1
        self._checked = False  # the gradient check runs once, at the first probe

    def on_train_begin(self, logs):
        model = self.model
        self._batch_size, self._rows, self._targets = int(logs["batch_size"]), [], []
        self.probe = Probe(model)
        last = model.layers[-1]
        fuses = getattr(model.loss, "fuses", None)
        self.evidence = Evidence(  # a resumed run's probes and epochs so far (self.health, the History) come back
            self.probe.layers, classes=max(2, int(model.out_features or 2)), samples=samples_of(self.health),
            epochs=self.trainer.history.rows(), steps_per_epoch=int(logs["steps"]),
            double_softmax=bool(fuses == "softmax" and getattr(last, "gives_probabilities", False)),
            dropout=max((float(layer.get_config().get("rate", 0.0)) for layer in model.layers), default=0.0),
            gradient_scale=float(self._batch_size if model.loss.reduction == "sum" else 1),
            fired={d.code for d in self.diagnoses})
        self._find("start", epoch=self.trainer.epoch + 1, step=model.optimizer.iterations)

    def sampled_steps(self, epoch: int, steps: int) -> dict[int, bool]:
        return sample_plan(steps, self._batch_size, self.per_epoch)

    def on_step_end(self, step: Step) -> None:
        if step.gradients is None or step.weights_before is None:  # a step whose rows join the next probe
            self._rows.append(step.x.copy())
            self._targets.append(step.y.copy())
            return
        xp = self.model.backend.xp
        rows = xp.concatenate([*self._rows, step.x]) if self._rows else step.x
        targets = xp.concatenate([*self._targets, step.y]) if self._targets else step.y
        self._rows, self._targets = [], []
        assert self.evidence is not None
        layers, counts = self.probe.measure(rows, step.gradients, step.weights_before, targets, not self._checked)
        self._checked = True
        loss = float(step.loss)  # on a device, a read per probe (not per step)
        per_row = loss / step.size if self.model.loss.reduction == "sum" else loss
        sample = Sample(step.number, step.epoch + 1, step.batch, per_row, float(self.model.optimizer.lr), layers)
        self.evidence.samples.append(sample)
        known = self.evidence.label_counts or [0] * len(counts)
        self.evidence.label_counts = [a + b for a, b in zip(known, counts)]
        self.health += [{key: getattr(sample, key) for key in HEALTH_KEYS} | layer for layer in layers]
        self._find("probe", sample.epoch, sample.step)

    def on_epoch_end(self, epoch, logs):
        assert self.evidence is not None
        self.evidence.initial_loss = self.trainer.initial_loss
        self.evidence.epochs.append({"epoch": epoch + 1, **logs})
        self._find("epoch", epoch + 1, self.model.optimizer.iterations)

    def on_train_stop(self, error: BaseException) -> None:
        if self.evidence is None or not isinstance(error, TrainingDiverged):
            return
        self.evidence.stopped = str(error)
        self._find("stop", self.trainer.epoch + 1, self.model.optimizer.iterations)

    def _find(self, when: str, epoch: int, step: int) -> None:
        assert self.evidence is not None
        for diagnosis in diagnose(self.evidence, when, epoch, step):
            self.diagnoses.append(diagnosis)
            self.trainer.history.diagnoses.append(diagnosis)
            if self.report is not None:
                self.report(diagnosis)

    def state_dict(self) -> dict:
        """The diagnoses so far (a resumed run does not report them again)."""
        return {"diagnoses": [d.to_dict() for d in self.diagnoses]}

    def load_state_dict(self, state: dict) -> None:
        self.diagnoses = [Diagnosis.from_dict(d) for d in state.get("diagnoses", [])]
        if self.evidence is not None:
            self.evidence.fired |= {d.code for d in self.diagnoses}
        self.trainer.history.diagnoses[:] = list(self.diagnoses)


def doctor_printer(verbose) -> Callable[[Diagnosis], Any] | None:
    """What `fit(verbose=...)` does with a diagnosis as it fires: print a problem's line (None at verbose 0)."""
    if not verbose:
        return None

    def report(diagnosis: Diagnosis) -> None:
        if diagnosis.severity == PROBLEM:
            print(diagnosis.line(), flush=True)

    return report


def diagnose(evidence: Evidence, when: str, epoch: int, step: int) -> list[Diagnosis]:
    """The rules of moment `when` that fire now, as Diagnoses stamped with the epoch (from 1) and step."""
    return [Diagnosis(rule.code, rule.severity, epoch, step, message) for rule, message in examine(evidence, when)]


def replay(evidence: Evidence, health: list[dict], epochs: list[dict], stopped: str = "") -> list[Diagnosis]:
    """The diagnoses a Doctor would have made from recorded telemetry (`health` rows, as `Doctor.health` and
    health.csv hold them) and epoch metrics (rows with "epoch" from 1), fed to `evidence` in training order."""
    samples = samples_of(health)
    found = diagnose(evidence, "start", 1, 0)
    for logs in ({**row, "epoch": int(row["epoch"])} for row in epochs):  # metrics.csv reads epochs as floats
        while samples and samples[0].epoch <= logs["epoch"]:
            evidence.samples.append(samples.pop(0))
            found += diagnose(evidence, "probe", evidence.samples[-1].epoch, evidence.samples[-1].step)
        evidence.epochs.append(logs)
        found += diagnose(evidence, "epoch", logs["epoch"], _epoch_end_step(evidence, logs["epoch"]))
    for sample in samples:  # an epoch that did not finish
        evidence.samples.append(sample)
        found += diagnose(evidence, "probe", sample.epoch, sample.step)
    if stopped:
        evidence.stopped = stopped
        last = evidence.samples[-1] if evidence.samples else None
        found += diagnose(evidence, "stop", last.epoch if last else len(epochs) + 1, last.step if last else 0)
    return found


def samples_of(health: list[dict]) -> list[Sample]:
    """Health rows (one per probe and layer) grouped back into probes, in step order."""
    probes: dict[int, Sample] = {}
    for row in health:
        step = int(row["step"])
        if step not in probes:
            probes[step] = Sample(step, int(row["epoch"]), int(row["batch"]), float(row["loss"]), float(row["lr"]), [])
        probes[step].layers.append({key: value for key, value in row.items() if key not in HEALTH_KEYS})
    for sample in probes.values():
        sample.layers.sort(key=lambda layer: int(layer["layer"]))
    return [probes[step] for step in sorted(probes)]


def _epoch_end_step(evidence: Evidence, epoch: int) -> int:
    """The optimizer step at the end of `epoch` (from 1): epochs x steps per epoch, else the last probe's step."""
    if evidence.steps_per_epoch:
        return epoch * evidence.steps_per_epoch
    return evidence.samples[-1].step if evidence.samples else 0
