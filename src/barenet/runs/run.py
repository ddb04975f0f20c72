"""Run a configuration: data -> model -> Trainer -> reports -> files, into a run folder.

    runs/<timestamp>-<name>/
        config.toml              fully resolved; `barenet train --config` on it reproduces the run
        checkpoint.safetensors   after every epoch: weights, optimizer state, RNG state, history
        metrics.csv              one row per epoch
        model.safetensors        the final model
        summary.json             test accuracy, times, where everything is
        learning_curves.png  confusion_matrix.png  misclassified.png  first_layer_weights.png

`resume(run_dir)` continues an interrupted run (even one killed with SIGKILL)
from its last checkpoint and ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ..data.augment import Augment
from ..data.loader import Dataset
from ..data.loader import load as load_dataset
from ..data.transforms import scale, standardize
from ..errors import ConfigError, Interrupted, TrainingDiverged
from ..io.files import check_output_dir, lookable, make_dir, write_json, write_text
from ..io.readers import check_regular
from ..models import loading
from ..models.sequential import Sequential
from ..training.callbacks import Callback, EarlyStopping, ProgressBar, StopAtTarget
from ..training.trainer import Trainer
from ..version import __version__
from . import config as cfg
from . import reports
from .folder import RunLock, check_optimizer_state, check_progress, fingerprint, remove_stale_parts, signals_held
from .review import review

CHECKPOINT = "checkpoint.safetensors"


# ----- data ------------------------------------------------------------------
def load_data(config: dict) -> Dataset:
    """The dataset named by the config, split and subset as it asks."""
    data = config["data"]
    return load_dataset(data["dataset"], data_dir=data["data_dir"] or None, validation=data["validation"],
                         subset=data["subset"] or None, seed=config["train"]["seed"])


class InputScaler:
    """Turns uint8 images into what the model trains on, per data.scale.

    unit         leave uint8: training scales to [0, 1] batch by batch (no float copy of the set)
    standardize  (x/255 - mean) / std with the training set's mean and std, float32
    none         raw 0-255 values as float32 (what some notebooks did; barenet warns)
    """

    def __init__(self, mode: str, train_x: np.ndarray | None = None, mean: float = 0.0, std: float = 1.0):
        self.mode, self.mean, self.std = mode, mean, std
        if mode == "standardize" and train_x is not None:  # statistics of a sample, as float32 in [0, 1]
            sample = train_x[: min(len(train_x), 20000)].astype(np.float32) / np.float32(255.0)
            self.mean, self.std = float(sample.mean()), float(sample.std())

    def to_dict(self) -> dict:
        return {"scale": self.mode, **({"mean": self.mean, "std": self.std} if self.mode == "standardize" else {})}

    @classmethod
    def from_dict(cls, spec: dict) -> InputScaler:
        mode = spec.get("scale", "unit")
        if mode == "standardize":
            return cls(mode, mean=float(spec["mean"]), std=float(spec["std"]))
        return cls(mode)

    @classmethod
    def of(cls, model) -> InputScaler:
        """The scaling a saved model was trained with (its file's `input` metadata; unit when absent)."""
        return cls.from_dict(model.extra.get("input", {}))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.mode == "unit":
            return x
        rows = x.reshape(len(x), -1)
        if self.mode == "none":
            return scale(rows, factor=1.0)
        return standardize(rows, self.mean, self.std)


def check_fits_data(config: dict, ds: Dataset) -> None:
    """The first layer must take the data's features and the last give one output per class."""
    sizes = config["model"]["layers"]
    features = int(np.prod(ds.train.x.shape[1:]))
    if sizes[0] != features:
        raise ConfigError(f"model.layers starts with {sizes[0]} inputs but {ds.name} images have {features} "
                          f"features ({'x'.join(map(str, ds.train.x.shape[1:]))}): start the layers with {features}")
    if sizes[-1] != len(ds.classes):
        raise ConfigError(f"model.layers ends with {sizes[-1]} outputs but {ds.name} has {len(ds.classes)} "
                          f"classes: end the layers with {len(ds.classes)}")


@dataclass
class Prepared:
    """A configuration made ready to train: the dataset, its scaling, the compiled model, the augmentation.

    Every choice a run makes while it trains (the plateau schedule, early stopping) sees the
    validation split only. The test set is evaluated once, at the end, unless the config asks
    for it every epoch (train.test_each_epoch), and then only to be looked at.
    """

    config: dict
    ds: Dataset
    scaler: InputScaler
    model: Sequential
    augment: Augment | None = None

    @property
    def validated(self) -> bool:
        return self.ds.validation is not None

    def train_data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.scaler(self.ds.train.x), self.ds.train.y

    def eval_data(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The validation split, scaled (None when the config holds none out)."""
        split = self.ds.validation
        return (self.scaler(split.x), split.y) if split is not None else None

    def monitored(self) -> dict:
        """{"test": (x, y)} when the config asks to see test metrics every epoch, else {}."""
        if not self.config["train"]["test_each_epoch"]:
            return {}
        return {"test": (self.scaler(self.ds.test.x), self.ds.test.y)}


def prepare(config: dict, model: Sequential | None = None) -> Prepared:
    """Build the model (checking every option first), load the data, check they fit each other."""
    model = model if model is not None else cfg.build_model(config)
    augment = cfg.build_augment(config)
    ds = load_data(config)
    check_fits_data(config, ds)
    return Prepared(config, ds, InputScaler(config["data"]["scale"], ds.train.x), model, augment)


# ----- run folder ------------------------------------------------------------
def run_label(config: dict) -> str:
    """What ran, for a folder name: the config's name, then "+dataset" and "+784x256x10" where the dataset
    or the layers differ from the recipe of that name (always, for a config that is no recipe)."""
    name, dataset, layers = config["name"], config["data"]["dataset"], config["model"]["layers"]
    recipe = cfg.resolve(recipe=name) if name in cfg.recipe_names() else None
    parts = [name]
    if recipe is None or recipe["data"]["dataset"] != dataset:
        parts.append(dataset)
    if recipe is None or recipe["model"]["layers"] != layers:
        parts.append("x".join(map(str, layers)))
    return "+".join(parts)


def new_run_dir(config: dict, out=None, force: bool = False) -> Path:
    """`out` checked (absent, empty, or --force), or a fresh runs/<time>-<what ran> folder; created."""
    if out is None:
        stamp, label = datetime.now().strftime("%Y%m%d-%H%M%S"), run_label(config)
        out, suffix = Path("runs") / f"{stamp}-{label}", 1
        while out.exists():
            suffix += 1
            out = Path("runs") / f"{stamp}-{label}-{suffix}"
    RunLock.check_free(Path(out))  # a folder another run is writing: say so, not "add --force"
    out = check_output_dir(out, force)
    return make_dir(out)


# ----- printing and recording ------------------------------------------------
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
    """After every epoch, atomically: metrics.csv, and a checkpoint (model file + the trainer's progress)."""

    def __init__(self, run_dir: Path, config_sha256: str = "", saved: int = 0):
        self.run_dir, self.config_sha256 = run_dir, config_sha256
        self.saved = saved  # the last epoch whose checkpoint is on disk (0: none yet)

    def on_epoch_end(self, epoch, logs):
        reports.write_metrics_csv(self.run_dir / "metrics.csv", metric_rows(self.trainer.history))
        with signals_held():  # a stop between the two would name the epoch before the one on disk
            self.model.save(self.run_dir / CHECKPOINT, include_optimizer=True,
                            extra={**self.trainer.progress(), "config_sha256": self.config_sha256})
            self.saved = epoch + 1


def _callbacks(prepared: Prepared, recorder: RunRecorder, quiet: bool, stream) -> list[Callback]:
    train = prepared.config["train"]
    callbacks: list[Callback] = []
    if train["early_stopping"]:
        monitor = "val_loss" if prepared.validated else "loss"
        callbacks.append(EarlyStopping(monitor=monitor, patience=train["early_stopping"], restore_best_weights=True))
    if train["target_loss"]:
        callbacks.append(StopAtTarget(train["target_loss"], monitor="loss"))
    callbacks.append(recorder)
    if not quiet and recorder.saved < train["epochs"]:  # a finished run gets no empty table
        sets = ("val",) * prepared.validated + ("test",) * bool(train["test_each_epoch"])
        callbacks += [ProgressBar(file=sys.stderr), EpochTable(stream, sets)]
    return callbacks


# ----- the run ---------------------------------------------------------------
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
    recorder = RunRecorder(run_dir, fingerprint(config), start["epoch"] if start else 0)
    trainer = Trainer(prepared.model, batch_size=cfg.batch_size(config), shuffle=config["train"]["shuffle"],
                      callbacks=[*_callbacks(prepared, recorder, quiet, stream), *callbacks], augment=prepared.augment)
    if start:
        trainer.load_state_dict({"progress": start})
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported by TrainingDiverged
            trainer.fit(*prepared.train_data(), epochs=config["train"]["epochs"], validation_data=prepared.eval_data(),
                        monitor=prepared.monitored())
    except TrainingDiverged as exc:
        raise TrainingDiverged(f"{exc}; {_kept(run_dir, recorder.saved)}", exc.history) from None
    except KeyboardInterrupt as exc:
        raise Interrupted(stop_message(exc, run_dir, recorder.saved, config["train"]["epochs"]),
                          getattr(exc, "signal_number", 2)) from None
    return finish(prepared, trainer, run_dir, wall_start, quiet, stream, resumed=start is not None)


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


def model_info(ds: Dataset, scaler: InputScaler, data_dir: str = "") -> dict:
    """What `evaluate`/`predict` need to feed the saved model: dataset, the folder it was read from
    (when one was given), class names, input scaling, and how many of the last training images were held
    out for validation (so `barenet ensemble --on validation` can score a committee on images no member saw)."""
    held = len(ds.validation) if ds.validation is not None else 0
    return {"dataset": ds.name, "data_dir": data_dir, "classes": list(ds.classes), "input": scaler.to_dict(),
            "image_shape": list(ds.train.x.shape[1:]), "validation": held}


def _absolute(folder: str) -> str:
    return str(Path(folder).expanduser().resolve()) if folder else ""


def finish(prepared: Prepared, trainer: Trainer, run_dir: Path, wall_start: float, quiet: bool, stream,
           resumed: bool = False) -> dict:
    """Evaluate on the test set, save the model, the summary and the plots."""
    model, ds, config = prepared.model, prepared.ds, prepared.config
    x_test = prepared.scaler(ds.test.x)
    test = trainer.evaluate(x_test, ds.test.y)
    info = model_info(ds, prepared.scaler, _absolute(config["data"]["data_dir"]))
    model.save(run_dir / "model.safetensors", extra={**info, "name": config["name"], "test_accuracy": test["accuracy"]})
    rows = metric_rows(trainer.history)
    reports.write_metrics_csv(run_dir / "metrics.csv", rows)
    proba = model.predict_proba(x_test)
    counts = reports.confusion_matrix(ds.test.y, proba.argmax(axis=1), len(ds.classes))
    plots = write_plots(model, ds, proba, counts, rows, run_dir)
    train_seconds = float(sum(row["seconds"] for row in rows))
    summary = {
        "name": config["name"], "dataset": ds.name, "barenet_version": __version__, "backend": model.backend.settings(),
        "test_accuracy": test["accuracy"], "test_loss": test["loss"],
        "epochs_run": len(rows), "epochs_planned": config["train"]["epochs"],
        "train_seconds": round(train_seconds, 3), "wall_seconds": round(time.perf_counter() - wall_start, 3),
        "final_epoch": rows[-1] if rows else {}, **best_validation(rows),
        "per_class": reports.per_class_scores(counts, list(ds.classes)),
        "run_dir": str(run_dir),
        "files": sorted(["config.toml", "model.safetensors", "metrics.csv", "summary.json", CHECKPOINT, *plots]),
    }
    write_json(run_dir / "summary.json", summary)
    if not quiet:
        timing = (f"training {train_seconds:.1f}s over all sessions, this session {summary['wall_seconds']:.1f}s"
                  if resumed else f"training {train_seconds:.1f}s, total {summary['wall_seconds']:.1f}s")
        print(f"test accuracy {test['accuracy']:.2%} (loss {test['loss']:.4f}) after {len(rows)} epochs; {timing}",
              file=stream)
        print(f"saved to {run_dir}/: {', '.join(summary['files'])}", file=stream)
    return summary


def best_validation(rows: list[dict]) -> dict:
    """{"best_val_accuracy": ..., "best_val_epoch": ...} over the epochs run ({} without a validation split)."""
    scored = [row for row in rows if "val_accuracy" in row]
    if not scored:
        return {}
    best = max(scored, key=lambda row: row["val_accuracy"])
    return {"best_val_accuracy": best["val_accuracy"], "best_val_epoch": best["epoch"]}


def write_plots(model: Sequential, ds: Dataset, proba, counts, rows, run_dir: Path) -> list[str]:
    """The run's PNGs; returns their names."""
    written = ["learning_curves.png", "confusion_matrix.png", "misclassified.png"]
    title = f"{ds.name}, test accuracy {counts.trace() / max(counts.sum(), 1):.2%}"
    reports.plot_learning_curves(rows, run_dir / written[0], title=f"{run_dir.name}: {title}")
    reports.plot_confusion_matrix(counts, ds.classes, run_dir / written[1], title=f"{ds.name} test set")
    reports.plot_misclassified(ds.test.x, ds.test.y, proba, ds.classes, run_dir / written[2])
    first = next((layer for layer in model.layers if "W" in layer.params), None)
    if first is not None:
        reports.plot_first_layer(model.backend.to_numpy(first.params["W"]), run_dir / "first_layer_weights.png")
        written.append("first_layer_weights.png")
    return written


def resume(run_dir, quiet: bool = False, stream=None, device: str | None = None) -> dict:
    """Continue the run in `run_dir` from its last checkpoint (or from the start if it has none).

    The folder is locked first; stale temp files are removed; the checkpoint must have been written
    with this very config.toml (its fingerprint), and its progress must be whole.
    device: finish on another device than config.toml names (a GPU lease ended: go on on the CPU);
    config.toml is rewritten to name it, and the numbers differ from an uninterrupted run's by rounding.
    """
    wall_start, stream = time.perf_counter(), stream or sys.stdout
    run_dir = Path(run_dir)
    config_path = run_dir / "config.toml"
    if not config_path.is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.toml): give the folder a training run wrote")
    with RunLock(run_dir):
        remove_stale_parts(run_dir)
        config = cfg.resolve(path=config_path)
        moved = cfg.with_overrides(config, {"train.device": device}) if device else config
        model, progress = _checkpoint(run_dir, config, moved["train"]["device"])
        if moved["train"]["device"] != config["train"]["device"]:
            _note_move(config["train"]["device"], moved["train"]["device"], quiet, stream)
            write_text(config_path, cfg.to_toml(moved))
        if progress is not None and progress["epoch"] >= config["train"]["epochs"] and not quiet:
            print(f"{run_dir} already finished its {progress['epoch']} epochs: writing the final reports",
                  file=stream)
        return train_in(prepare(moved, model), run_dir, progress, wall_start, quiet, stream)


def _note_move(old: str, new: str, quiet: bool, stream) -> None:
    if not quiet:
        print(f"resuming on {new} a run that trained on {old} (config.toml now says train.device = '{new}'): the "
              f"rest differs from an uninterrupted {old} run by rounding", file=stream)


def _checkpoint(run_dir: Path, config: dict, device: str) -> tuple[Sequential | None, dict | None]:
    """(model, progress) from the run's checkpoint, checked against config.toml, placed on `device`;
    (None, None) without one."""
    path = run_dir / CHECKPOINT
    if not (path.exists() or path.is_symlink()):
        return None, None
    check_regular(path, "checkpoint", ConfigError)
    model = loading.load(path, device=device)
    progress = checkpoint_progress(model.extra)
    check_progress(progress, path)
    check_optimizer_state(model, progress, path)
    saved = progress.pop("config_sha256", None)
    if saved is not None and saved != fingerprint(config):
        raise ConfigError(f"{run_dir}/config.toml is not the configuration {CHECKPOINT} was trained with (it was "
                          f"edited or replaced): restore it, or start a new run with --config")
    if saved is None and _sizes(model) != config["model"]["layers"]:
        raise ConfigError(f"{run_dir}/config.toml says layers {config['model']['layers']} but {CHECKPOINT} holds "
                          f"{_sizes(model)}: restore the config, or start a new run with --config")
    return model, progress


def _sizes(model: Sequential) -> list[int]:
    dense = [layer.params["W"].shape for layer in model.layers if "W" in layer.params]
    return [dense[0][0], *(shape[1] for shape in dense)] if dense else []


def checkpoint_progress(extra: dict) -> dict:
    """The Trainer progress a checkpoint holds; checkpoints written before the Trainer kept early stopping apart."""
    progress = dict(extra)
    if "early_stopping" in progress:
        progress["callbacks"] = {"EarlyStopping": progress.pop("early_stopping")}
    return progress
