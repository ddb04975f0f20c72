"""One trial: an ordinary barenet run in `SWEEP/trials/NNNN/`, reporting to Optuna after every epoch.

The value a trial reports (per epoch, and at the end) is its validation accuracy; the test set is
evaluated only by the run's usual final report and never reaches Optuna. Beside the run's files,
`trial.json` says how the trial ended (and `diagnoses`, the codes of what the training doctor found):

    ok / collapsed   trained every epoch (apps.outcome.classify on the final validation accuracy)
    diverged         the loss blew up; reported to Optuna as 0.0 so the sampler steers away
    pruned           stopped by the pruner after epoch k: the checkpoint of epoch k is kept, so
                     `barenet train --resume DIR` would finish it
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from ...errors import TrainingDiverged
from ...io.files import write_json
from ...runs import config as cfg
from ...runs.run import run
from ...training.callbacks import Callback
from ..outcome import DIVERGED, classify
from .engine import optuna
from .plan import SweepPlan


class ReportEpochs(Callback):
    """After every epoch: the validation accuracy to Optuna (step = epochs done), then prune if it says so."""

    def __init__(self, trial):
        self.trial, self.accuracy, self.epochs = trial, float("nan"), 0

    def codes(self) -> list[str]:
        """The codes of what the training doctor found in this trial so far (its History holds the diagnoses)."""
        history = self.trainer.history if self.trainer is not None else None
        return [d.code for d in getattr(history, "diagnoses", [])]

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.accuracy, self.epochs = float(logs["val_accuracy"]), epoch + 1
        self.trial.report(self.accuracy, step=self.epochs)
        if self.trial.should_prune():
            raise optuna().TrialPruned(f"pruned after epoch {self.epochs} at validation accuracy {self.accuracy:.2%}")


def trial_config(base: dict, overrides: dict, number: int) -> dict:
    """The base config with the trial's values, named after the trial; checked like any config."""
    return cfg.with_overrides(base, {**overrides, "name": f"{base['name']}-trial{number}"})


def run_dir_of(plan: SweepPlan, number: int) -> Path:
    return plan.out / "trials" / f"{number:04d}"


def objective(trial, plan: SweepPlan, suggested=None) -> float:
    """Train the trial's configuration; its final validation accuracy (0.0 if it diverged).
    `suggested(trial, overrides)` is called once the values are drawn (the worker releases its lock there)."""
    overrides = {param.key: param.suggest(trial) for param in plan.params}
    if suggested is not None:
        suggested(trial, overrides)
    config, run_dir = trial_config(plan.base, overrides, trial.number), run_dir_of(plan, trial.number)
    for key, text in {"run_dir": str(run_dir.resolve()), "host": socket.gethostname(),
                      "config": cfg.to_toml(config)}.items():
        trial.set_user_attr(key, text)
    reporter, started = ReportEpochs(trial), time.perf_counter()
    outcome: dict[str, Any] = {"study": plan.study, "trial": trial.number, "params": overrides}
    try:
        summary = run(config, out=run_dir, force=True, quiet=True, callbacks=[reporter])
    except TrainingDiverged as exc:
        value = 0.0
        outcome.update(status=DIVERGED, message=str(exc))
    except optuna().TrialPruned as exc:
        finish(trial, run_dir, {**outcome, "status": "pruned", "message": str(exc)}, reporter, started)
        raise
    else:
        value = float(summary["final_epoch"]["val_accuracy"])
        outcome["status"] = classify(value, config["model"]["layers"][-1])
    finish(trial, run_dir, outcome, reporter, started)
    return value


def finish(trial, run_dir: Path, outcome: dict, reporter: ReportEpochs, started: float) -> None:
    """Record how the trial ended: in the study (user attributes) and in the run folder (trial.json), with the
    codes of what the training doctor found (`diagnoses`)."""
    outcome.update(validation_accuracy=reporter.accuracy if reporter.epochs else None, epochs=reporter.epochs,
                   seconds=round(time.perf_counter() - started, 2), diagnoses=reporter.codes())
    for key in ("status", "epochs", "seconds", "diagnoses"):
        trial.set_user_attr(key, outcome[key])
    if run_dir.is_dir():
        write_json(run_dir / "trial.json", outcome)
