"""What a sweep is: the base configuration, the search space, where the study lives and how to search.

A `SweepPlan` is plain data, so each worker process gets its own copy. `make_plan` checks everything
that can be checked before anything trains: every --param value against the config schema, the
dataset (loaded once) against every layer choice, the storage URL, the sampler and the pruner.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ConfigError
from ...runs import config as cfg
from ...runs.prepared import check_fits_data, load_data
from ...runs.schema import NAME_PATTERN
from . import engine
from .params import Param
from .storage import default_url, scheme

VALIDATION_ROWS = 10_000  # held out when the config holds out none: a sweep never selects on the test set
DEFAULT_HEARTBEAT_S = 10


@dataclass
class SweepPlan:
    """base       the resolved configuration every trial starts from (with a validation split)
    params     the search space;  study  the study's name;  storage  its URL;  out  this machine's sweep folder
    trials     finished trials (complete or pruned) the study should reach, across all workers and machines
    sampler, pruner, seed   how to search (seed: the sampler's; worker i uses seed + i)
    prune_after  trials that finish before the median pruner judges others
    timeout_s  no trial starts after this many seconds (None: no limit);  heartbeat_s  see storage.open_storage
    notes      what the plan changed in the configuration, to tell the user"""

    base: dict
    params: list[Param]
    study: str
    storage: str
    out: Path
    trials: int
    sampler: str = "tpe"
    pruner: str = "median"
    prune_after: int = engine.STARTUP_TRIALS
    seed: int | None = None
    timeout_s: float | None = None
    heartbeat_s: int = DEFAULT_HEARTBEAT_S
    notes: list[str] = field(default_factory=list)

    def signature(self) -> str:
        """What workers joining one study must agree on: the base config (its data folder aside) and the space."""
        base = {**self.base, "name": "", "data": {**self.base["data"], "data_dir": ""}}
        text = json.dumps({"config": base, "params": [p.describe() for p in self.params]}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def with_validation(base: dict) -> tuple[dict, list[str]]:
    """The config with a validation split (the last VALIDATION_ROWS training images when it has none)."""
    if base["data"]["validation"]:
        return base, []
    note = (f"held out the last {VALIDATION_ROWS:,} training images for validation (data.validation): trials are "
            f"chosen on them, never on the test set")
    return cfg.apply_override(base, "data.validation", VALIDATION_ROWS), [note]


def check_study_name(name: str) -> str:
    import re

    if not re.fullmatch(NAME_PATTERN, name) or len(name) > 100:
        raise ConfigError(f"--study {name!r}: use letters, digits, '.', '_' and '-' (it names the sweep folder)")
    return name


def check_data(base: dict, params: list[Param]) -> None:
    """Load the dataset once: it must exist, and every layer list tried must fit its images and classes."""
    data = load_data(base)
    layers = next((p for p in params if p.key == "model.layers"), None)
    for choice in layers.choices if layers else [base["model"]["layers"]]:
        check_fits_data(cfg.apply_override(base, "model.layers", choice), data)


def make_plan(base: dict, params: list[Param], trials: int, study: str | None = None, storage: str | None = None,
              out=None, **options) -> SweepPlan:
    """A checked plan; `options` are SweepPlan's (sampler, pruner, prune_after, seed, timeout_s, heartbeat_s)."""
    if trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {trials}")
    base, notes = with_validation(base)
    name = check_study_name(study or base["name"])
    folder = Path(out) if out else Path("runs") / f"sweep-{name}"
    url = storage or default_url(folder)
    scheme(url)
    engine.make_sampler(options.get("sampler", "tpe"), params)
    engine.make_pruner(options.get("pruner", "median"))
    if options.get("sampler") == "grid" and trials > engine.grid_size(params):
        notes.append(f"the grid has {engine.grid_size(params)} combinations: --trials {trials} lowered to that")
        trials = engine.grid_size(params)
    check_data(base, params)
    return SweepPlan(base, params, name, url, folder, trials, notes=notes, **options)
