"""What a run shows and keeps while it trains: the epoch table, and after every epoch metrics.csv,
health.csv and a checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

from ..training.callbacks import Callback
from ..training.doctor import Doctor
from . import reports
from .folder import CHECKPOINT, signals_held
from .health import HEALTH_CSV, write_health_csv


class EpochTable(Callback):
    """One aligned row per epoch: epoch, seconds, train loss/accuracy, then validation (and test, when
    asked for every epoch) loss/accuracy, lr."""

    def __init__(self, stream, sets: tuple[str, ...] = ("val",)):
        self.stream, self.sets = stream, sets

    def on_train_begin(self, logs):
        heads = "".join(f" {name + ' loss':>9} {name + ' acc':>9}" for name in self.sets)
        print(f"{'epoch':>5} {'seconds':>8} {'loss':>9} {'accuracy':>9}{heads} {'lr':>9}", file=self.stream, flush=True)

    def on_epoch_end(self, epoch, logs):
        cells = "".join(f" {logs.get(f'{name}_loss', math.nan):9.4f} {logs.get(f'{name}_accuracy', math.nan):9.2%}"
                        for name in self.sets)
        print(f"{epoch + 1:>5} {logs['seconds']:>7.2f}s {logs['loss']:>9.4f} {logs['accuracy']:>9.2%}{cells} "
              f"{logs['lr']:>9.3g}", file=self.stream, flush=True)


def metric_rows(history) -> list[dict]:
    """History rows in the order of metrics.csv."""
    order = ["epoch", "seconds", "loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "lr"]
    return [{key: row[key] for key in order if key in row} for row in history.rows()]


class RunRecorder(Callback):
    """After every epoch, atomically: metrics.csv, the doctor's health.csv, and a checkpoint (model file + the
    trainer's progress, which holds the doctor's findings)."""

    def __init__(self, run_dir: Path, config_sha256: str = "", saved: int = 0, doctor: Doctor | None = None):
        self.run_dir, self.config_sha256 = run_dir, config_sha256
        self.saved = saved  # the last epoch whose checkpoint is on disk (0: none yet)
        self.doctor = doctor or Doctor()

    def on_epoch_end(self, epoch, logs):
        reports.write_metrics_csv(self.run_dir / "metrics.csv", metric_rows(self.trainer.history))
        write_health_csv(self.run_dir / HEALTH_CSV, self.doctor.health)
        with signals_held():  # a stop between the two would name the epoch before the one on disk
            self.model.save(self.run_dir / CHECKPOINT, include_optimizer=True,
                            extra={**self.trainer.progress(), "config_sha256": self.config_sha256})
            self.saved = epoch + 1
