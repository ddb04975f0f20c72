"""Optuna, imported only when a sweep runs (the `sweep` extra), and the samplers and pruners barenet offers.

    sampler  tpe (default; constant liar, so parallel workers spread out), random, grid (choices only)
    pruner   median (stop a trial whose validation accuracy after an epoch is below the median of
             earlier trials at that epoch), hyperband, none
"""

from __future__ import annotations

import warnings
from typing import Any

from ...errors import ConfigError

INSTALL = 'pip install "barenet[sweep]"'
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
STARTUP_TRIALS = 5  # trials that finish before the median pruner judges others (Optuna's default)


def optuna() -> Any:
    """The optuna module, quiet (errors only: barenet says how each trial ended), or a one-line error
    naming the extra to install."""
    try:
        import optuna as module
    except ImportError as exc:
        raise ConfigError(f"barenet sweep needs Optuna: {INSTALL} ({exc})") from None
    module.logging.set_verbosity(module.logging.ERROR)  # its "trial failed" warnings carry tracebacks
    warnings.filterwarnings("ignore", category=module.exceptions.ExperimentalWarning)
    return module


def make_sampler(name: str, params: list, seed: int | None = None) -> Any:
    """An Optuna sampler; grid needs every parameter as choices (its search space is their product)."""
    optuna_ = optuna()
    if name == "tpe":
        return optuna_.samplers.TPESampler(seed=seed, constant_liar=True)
    if name == "random":
        return optuna_.samplers.RandomSampler(seed=seed)
    if name == "grid":
        ranges = [p.key for p in params if p.kind != "choice"]
        if ranges:
            raise ConfigError(f"--sampler grid takes choices (A,B,C) for every --param; {ranges[0]} is a range")
        return optuna_.samplers.GridSampler({p.key: list(p.labels) for p in params}, seed=seed)
    raise ConfigError(f"unknown sampler {name!r}: use one of {', '.join(SAMPLERS)}")


def grid_size(params: list) -> int:
    """How many combinations a grid sampler has (the product of the choice counts)."""
    size = 1
    for param in params:
        size *= len(param.choices)
    return size


def make_pruner(name: str, startup_trials: int = STARTUP_TRIALS) -> Any:
    """An Optuna pruner judging the validation accuracy reported after every epoch (steps count epochs from 1)."""
    optuna_ = optuna()
    if name == "median":
        return optuna_.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=0)
    if name == "hyperband":
        return optuna_.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    if name == "none":
        return optuna_.pruners.NopPruner()
    raise ConfigError(f"unknown pruner {name!r}: use one of {', '.join(PRUNERS)}")
