"""Learning-rate schedules.

A schedule maps a counter `t` (epochs by default, or optimizer steps with
`per="step"`) to a learning rate. The optimizer asks it at the start of every
epoch or step. `ReduceOnPlateau` also watches a metric at the end of each epoch.

    Constant(lr)
    StepDecay(lr, step_size, gamma=0.1)           lr * gamma ** (t // step_size)
    ExponentialDecay(lr, gamma)                   lr * gamma ** t
    CosineDecay(lr, total, warmup=0, min_lr=0)    linear warm-up, then half a cosine
    ReduceOnPlateau(lr, factor=0.1, patience=10)  lower the rate when a metric stalls

The formulas follow torch.optim.lr_scheduler (StepLR, ExponentialLR,
LinearLR + CosineAnnealingLR, ReduceLROnPlateau) so the parity tests can
compare them step for step.
"""

from __future__ import annotations

import math

from ..errors import ConfigError
from ..registry import build, config_repr

PER = ("epoch", "step")


def _check_lr(lr) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
        raise ConfigError(f"learning rate must be a non-negative number, got {lr!r}")
    return float(lr)


class Schedule:
    name = "schedule"

    def __init__(self, lr: float, per: str = "epoch"):
        self.initial_lr = _check_lr(lr)
        if per not in PER:
            raise ConfigError(f"schedule 'per' must be 'epoch' or 'step', got {per!r}")
        self.per = per

    def __call__(self, t: int) -> float:
        raise NotImplementedError

    def observe(self, metrics: dict) -> None:
        """Called with the epoch's metrics after every epoch (plateau schedules use it)."""

    def get_config(self) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        return config_repr(self, self.get_config(), always=("lr",))

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class Constant(Schedule):
    name = "constant"

    def __call__(self, t):
        return self.initial_lr

    def get_config(self):
        return {"name": self.name, "lr": self.initial_lr, "per": self.per}


class StepDecay(Schedule):
    name = "step"

    def __init__(self, lr, step_size: int, gamma: float = 0.1, per="epoch"):
        super().__init__(lr, per)
        if step_size < 1:
            raise ConfigError(f"step_size must be >= 1, got {step_size!r}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def __call__(self, t):
        return self.initial_lr * self.gamma ** (t // self.step_size)

    def get_config(self):
        return {"name": self.name, "lr": self.initial_lr, "step_size": self.step_size,
                "gamma": self.gamma, "per": self.per}


class ExponentialDecay(Schedule):
    name = "exponential"

    def __init__(self, lr, gamma: float, per="epoch"):
        super().__init__(lr, per)
        if not 0 < gamma <= 1:
            raise ConfigError(f"exponential decay gamma must be in (0, 1], got {gamma!r}")
        self.gamma = float(gamma)

    def __call__(self, t):
        return self.initial_lr * self.gamma ** t

    def get_config(self):
        return {"name": self.name, "lr": self.initial_lr, "gamma": self.gamma, "per": self.per}


class CosineDecay(Schedule):
    """Linear warm-up from `warmup_start * lr` over `warmup` counts, then cosine
    annealing from lr to `min_lr` over the remaining `total - warmup` counts.

    After `total` the rate stays at `min_lr` (hold_min=True). torch's
    CosineAnnealingLR instead keeps following the cosine and rises again;
    hold_min=False does the same. Up to `total` both agree: warm-up is torch's
    LinearLR(start_factor=warmup_start) then CosineAnnealingLR(T_max=total-warmup)
    joined by SequentialLR(milestones=[warmup]).
    """

    name = "cosine"

    def __init__(self, lr, total: int, warmup: int = 0, min_lr: float = 0.0,
                 warmup_start: float = 0.0, per="epoch", hold_min: bool = True):
        super().__init__(lr, per)
        self.hold_min = bool(hold_min)
        if total < 1 or not 0 <= warmup < total:
            raise ConfigError(f"cosine schedule needs total >= 1 and 0 <= warmup < total, "
                              f"got total={total!r}, warmup={warmup!r}: lower the warm-up (schedule.warmup, "
                              f"--set schedule.warmup=0) or train longer")
        self.total, self.warmup = int(total), int(warmup)
        self.min_lr, self.warmup_start = _check_lr(min_lr), float(warmup_start)

    def __call__(self, t):
        if t < self.warmup:
            fraction = self.warmup_start + (1.0 - self.warmup_start) * t / self.warmup
            return self.initial_lr * fraction
        elapsed = min(t - self.warmup, self.total - self.warmup) if self.hold_min else t - self.warmup
        progress = elapsed / (self.total - self.warmup)
        return self.min_lr + (self.initial_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def get_config(self):
        return {"name": self.name, "lr": self.initial_lr, "total": self.total, "warmup": self.warmup,
                "min_lr": self.min_lr, "warmup_start": self.warmup_start, "per": self.per,
                "hold_min": self.hold_min}


class ReduceOnPlateau(Schedule):
    """Multiply the rate by `factor` when `monitor` has not improved by more than
    `threshold` (relative, as torch's default 'rel' mode) for `patience` epochs.

    Every reduction is applied (eps=0). torch's ReduceLROnPlateau ignores a
    reduction smaller than its eps=1e-8 (which only matters near min_lr):
    pass eps=1e-8 to match it exactly.
    """

    name = "plateau"

    def __init__(self, lr, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, min_lr: float = 0.0, mode: str = "min", cooldown: int = 0,
                 eps: float = 0.0):
        super().__init__(lr, "epoch")
        if not 0 < factor < 1:
            raise ConfigError(f"plateau factor must be in (0, 1), got {factor!r}")
        if mode not in ("min", "max"):
            raise ConfigError(f"plateau mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.threshold, self.min_lr, self.mode, self.cooldown = float(threshold), float(min_lr), mode, int(cooldown)
        self.eps = float(eps)
        self.current = self.initial_lr
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs = 0
        self.cooldown_left = 0

    def __call__(self, t):
        return self.current

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best * (1.0 - self.threshold)
        return value > self.best * (1.0 + self.threshold)

    def observe(self, metrics):
        value = metrics.get(self.monitor)
        if value is None:
            value = metrics.get(self.monitor.removeprefix("val_"))  # no validation set: use training metric
        if value is None or not math.isfinite(value):
            return
        if self._improved(value):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            reduced = max(self.current * self.factor, self.min_lr)
            if self.current - reduced > self.eps:
                self.current = reduced
            self.cooldown_left, self.bad_epochs = self.cooldown, 0

    def get_config(self):
        return {"name": self.name, "lr": self.initial_lr, "monitor": self.monitor, "factor": self.factor,
                "patience": self.patience, "threshold": self.threshold, "min_lr": self.min_lr,
                "mode": self.mode, "cooldown": self.cooldown, "eps": self.eps}

    def state_dict(self):
        return {"current": self.current, "best": self.best, "bad_epochs": self.bad_epochs,
                "cooldown_left": self.cooldown_left}

    def load_state_dict(self, state):
        self.current, self.best = float(state["current"]), float(state["best"])
        self.bad_epochs, self.cooldown_left = int(state["bad_epochs"]), int(state["cooldown_left"])


REGISTRY = {cls.name: cls for cls in (Constant, StepDecay, ExponentialDecay, CosineDecay, ReduceOnPlateau)}


def get(spec) -> Schedule:
    """A schedule from a number (constant), a name with options in a dict, or a Schedule."""
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Constant(spec)
    if isinstance(spec, dict):
        return build(spec, REGISTRY, "schedule", default_name="constant")
    raise ConfigError(f"learning rate must be a number or a schedule, got {spec!r}")
