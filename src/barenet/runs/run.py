"""Run a configuration: data -> model -> Trainer -> reports -> files, into a run folder.

    runs/<timestamp>-<name>/
        config.toml              fully resolved; `barenet train --config` on it reproduces the run
        checkpoint.safetensors   after every epoch: weights, optimizer state, RNG state, history
        metrics.csv              one row per epoch
        model.safetensors        the final model
        summary.json             test accuracy, times, the training doctor's diagnoses, where everything is
                                 (a run stopped by divergence or Ctrl-C writes one too, without the test)
        health.csv  health.png   the training doctor's per-layer telemetry, after every epoch
        learning_curves.png  confusion_matrix.png  misclassified.png  first_layer_weights.png

The parts, each in its module: `prepared` (data, scaling, model), `naming` (the folder), `recording`
(the epoch table, metrics.csv and the checkpoint after every epoch), `summary` (the end: test set, model,
plots, summary.json) and `resume` (continuing from the checkpoint, even after SIGKILL).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import Interrupted, TrainingDiverged
from ..io.files import check_output_dir, lookable, write_text
from ..training.callbacks import Callback, EarlyStopping, ProgressBar, StopAtTarget
from ..training.trainer import Trainer
from ..version import __version__
from . import config as cfg
from .folder import RunLock, fingerprint, remove_stale_parts
from .health import run_doctor
from .naming import new_run_dir
from .prepared import Prepared, prepare
from .recording import EpochTable, RunRecorder
from .review import review
from .summary import finish, stopped


def _callbacks(prepared: Prepared, recorder: RunRecorder, quiet: bool, stream) -> list[Callback]:
    """Early stopping, the stop at a target loss, the progress bar and epoch table, then the doctor (its findings
    about an epoch print under the epoch's row) and the recorder (the checkpoint keeps what the doctor found)."""
    train = prepared.config["train"]
    callbacks: list[Callback] = []
    if train["early_stopping"]:
        monitor = "val_loss" if prepared.validated else "loss"
        callbacks.append(EarlyStopping(monitor=monitor, patience=train["early_stopping"], restore_best_weights=True))
    if train["target_loss"]:
        callbacks.append(StopAtTarget(train["target_loss"], monitor="loss"))
    if not quiet and recorder.saved < train["epochs"]:  # a finished run gets no empty table
        sets = ("val",) * prepared.validated + ("test",) * bool(train["test_each_epoch"])
        callbacks += [ProgressBar(file=sys.stderr), EpochTable(stream, sets)]
    return [*callbacks, recorder.doctor, recorder]


def run(config: dict, out=None, force: bool = False, quiet: bool = False, stream=None,
        callbacks: Sequence[Callback] = ()) -> dict:
    """Train `config` into a new run folder (locked while it trains) and return the summary (summary.json too).
    `callbacks` run after the run's own (so an epoch's checkpoint is on disk before they see it)."""
    wall_start = time.perf_counter()
    if out is not None:  # before the data is loaded: a busy or bad --out is refused at once
        RunLock.check_free(Path(lookable(out, "--out")))
        check_output_dir(out, force)
    prepared = prepare(config)
    run_dir = new_run_dir(config, out, force)
    with RunLock(run_dir):
        remove_stale_parts(run_dir)  # a --force run into an old folder: leftovers of killed writes
        write_text(run_dir / "config.toml", cfg.to_toml(config))
        return train_in(prepared, run_dir, None, wall_start, quiet, stream or sys.stdout, callbacks)


def train_in(prepared: Prepared, run_dir: Path, start: dict | None, wall_start: float, quiet: bool, stream,
             callbacks: Sequence[Callback] = ()) -> dict:
    """Train in the locked `run_dir` (from the checkpoint's progress `start`, if any), then finish the run."""
    config = prepared.config
    if not quiet:
        _print_start(prepared, run_dir, stream)
    saved = start["epoch"] if start else 0
    recorder = RunRecorder(run_dir, fingerprint(config), saved, run_doctor(run_dir, saved, quiet, stream))
    trainer = Trainer(prepared.model, batch_size=cfg.batch_size(config), shuffle=config["train"]["shuffle"],
                      callbacks=[*_callbacks(prepared, recorder, quiet, stream), *callbacks], augment=prepared.augment)
    if start:
        trainer.load_state_dict({"progress": start})
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported by TrainingDiverged
            trainer.fit(*prepared.train_data(), epochs=config["train"]["epochs"], validation_data=prepared.eval_data(),
                        monitor=prepared.monitored())
    except TrainingDiverged as exc:
        message = f"{exc}; {_kept(run_dir, recorder.saved)}"
        stopped(prepared, trainer, recorder.doctor, run_dir, ("diverged", message), wall_start, quiet, stream)
        raise TrainingDiverged(message, exc.history) from None
    except KeyboardInterrupt as exc:
        message = stop_message(exc, run_dir, recorder.saved, config["train"]["epochs"])
        stopped(prepared, trainer, recorder.doctor, run_dir, ("interrupted", message), wall_start, quiet, stream)
        raise Interrupted(message, getattr(exc, "signal_number", 2)) from None
    return finish(prepared, trainer, recorder.doctor, run_dir, wall_start, quiet, stream, resumed=start is not None)


def _kept(run_dir: Path, saved: int) -> str:
    """What the run folder holds after a failure: the checkpoint of epoch N, or nothing to resume."""
    if saved:
        return f"the run folder {run_dir} keeps the checkpoint of epoch {saved}"
    return f"no epoch finished, so {run_dir} holds no checkpoint"


def stop_message(exc: BaseException, run_dir: Path, saved: int, epochs: int) -> str:
    """"stopped by SIGTERM: epoch 3 of 10 is saved in DIR; resume with: barenet train --resume DIR"."""
    import shlex
    import signal

    number = getattr(exc, "signal_number", signal.SIGINT)
    name = signal.Signals(number).name if number in signal.Signals.__members__.values() else f"signal {number}"
    kept = f"epoch {saved} of {epochs} is saved in {run_dir}" if saved else f"no epoch finished yet in {run_dir}"
    return f"stopped by {name}: {kept}; resume with: barenet train --resume {shlex.quote(str(run_dir))}"


def _print_start(prepared: Prepared, run_dir: Path, stream) -> None:
    config, ds = prepared.config, prepared.ds
    held = f"validation {len(ds.validation):,}, " if ds.validation is not None else "no validation split, "
    test = "test every epoch" if config["train"]["test_each_epoch"] else "test once at the end"
    augmented = f", augmented: {'+'.join(prepared.augment.transforms)}" if prepared.augment else ""
    print(f"barenet {__version__}: {config['name']} on {ds.name} ({len(ds.train):,} training images{augmented}; "
          f"{held}{len(ds.test):,} {test}) -> {run_dir}", file=stream)
    for hint in review(config):
        print(f"hint: {hint}", file=stream)
