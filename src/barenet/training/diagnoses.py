"""The training doctor's records: a finding (`Diagnosis`), one probe's measurements (`Sample`), what the
rules read (`Evidence`) and a rule's description (`Rule`). The rules themselves are in `training/rules.py`.

    evidence = Evidence(layers, classes=10)      # the watched layers (telemetry.LayerSpec), then as training goes:
    evidence.samples.append(Sample(...))         # a probe's measurements
    evidence.epochs.append({"epoch": 1, ...})    # an epoch's metrics
    Diagnosis("dead-relus", "problem", epoch=1, step=40, message="...").line()
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from .telemetry import LayerSpec

PROBLEM, NOTE = "problem", "note"


@dataclass(frozen=True)
class Diagnosis:
    """A finding: `code` (stable), `severity` ("problem" or "note"), the epoch (from 1) and optimizer step it
    fired at (0: before training), and its one-line message."""

    code: str
    severity: str
    epoch: int
    step: int
    message: str

    def line(self) -> str:
        """"diagnosis (problem, epoch 1): layer 1's sigmoid units are saturated ... (data.scale = "unit")"."""
        return f"diagnosis ({self.severity}, epoch {self.epoch}): {self.message}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Diagnosis:
        """A Diagnosis from `to_dict()`'s table; ValueError/KeyError/TypeError for anything else."""
        code, severity, message = data["code"], data["severity"], data["message"]
        epoch, step = data["epoch"], data["step"]
        if not all(isinstance(text, str) for text in (code, severity, message)) or severity not in (PROBLEM, NOTE):
            raise ValueError(f"not a diagnosis: {data!r:.80}")
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (epoch, step)):
            raise ValueError(f"not a diagnosis: {data!r:.80}")
        return cls(code, severity, epoch, step, message)


@dataclass
class Sample:
    """One probe: optimizer step (from 1), epoch (from 1), batch, the step's loss per row, the learning rate,
    and the measurements of every watched layer (`telemetry.Probe.measure`; [0] is the input)."""

    step: int
    epoch: int
    batch: int
    loss: float
    lr: float
    layers: list[dict]


@dataclass
class Evidence:
    """What the rules read: the watched layers, the classes, the probes and epochs so far, the loss before
    training, and facts about the model (a softmax applied twice, its largest dropout rate)."""

    layers: list[LayerSpec]
    classes: int
    samples: list[Sample] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    initial_loss: float | None = None
    steps_per_epoch: int = 0
    double_softmax: bool = False
    dropout: float = 0.0
    stopped: str = ""  # the divergence message, at "stop"
    fired: set[str] = field(default_factory=set)
    label_counts: list[int] = field(default_factory=list)  # the probes' targets per class, when known
    gradient_scale: float = 1.0  # rows per batch for a summed loss (its gradients are that many times a mean's)

    @property
    def prior_loss(self) -> float:
        """The cross-entropy of always predicting the class frequencies: ln(classes) for balanced classes, less for
        the probes' label counts when known. A network whose loss falls below it is using its inputs."""
        total = sum(self.label_counts)
        if not total:
            return math.log(self.classes)
        return -sum(c / total * math.log(c / total) for c in self.label_counts if c)

    def recent(self, count: int) -> list[Sample]:
        """The last `count` probes, or [] while there are fewer."""
        return self.samples[-count:] if len(self.samples) >= count else []

    def epoch_samples(self, epoch: int) -> list[Sample]:
        return [s for s in self.samples if s.epoch == epoch]

    @property
    def dense(self) -> list[LayerSpec]:
        return self.layers[1:]

    @property
    def start_loss(self) -> float | None:
        """The loss before training (the Trainer's), else the first probe's: a yardstick for "the loss fell"."""
        if self.initial_loss is not None:
            return self.initial_loss
        return self.samples[0].loss if self.samples else None


@dataclass(frozen=True)
class Rule:
    """A rule: its code, severity, the moment it runs, the check, and what it looks at (for the docs)."""

    code: str
    severity: str
    when: str
    check: Callable[[Evidence], str | None]
    looks_at: str
