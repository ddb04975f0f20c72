"""Run a configuration: data -> model -> fit -> report -> save, into a run folder.

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

import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from . import __version__, datasets, reports, serialization
from . import config as cfg
from .callbacks import Callback, EarlyStopping, History, ProgressBar, StopAtTarget
from .errors import ConfigError, TrainingDiverged

CHECKPOINT = "checkpoint.safetensors"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


# ----- data ------------------------------------------------------------------
def load_data(config: dict):
    """The dataset named by the config, split and subset as it asks."""
    data = config["data"]
    return datasets.load(data["dataset"], data_dir=data["data_dir"] or None, validation=data["validation"],
                         subset=data["subset"] or None, seed=config["train"]["seed"])


class InputScaler:
    """Turns uint8 images into what the model trains on, per data.scale.

    unit         leave uint8: the model scales to [0, 1] batch by batch (no float copy of the set)
    standardize  (x/255 - mean) / std with the training set's mean and std, float32
    none         raw 0-255 values as float32 (what some notebooks did; barenet warns)
    """

    def __init__(self, mode: str, train_x: np.ndarray):
        self.mode = mode
        if mode == "standardize":
            sample = train_x[: min(len(train_x), 20000)].astype(np.float32) / 255.0
            self.mean, self.std = float(sample.mean()), float(sample.std())

    def to_dict(self) -> dict:
        return {"scale": self.mode, **({"mean": self.mean, "std": self.std} if self.mode == "standardize" else {})}

    @classmethod
    def from_dict(cls, spec: dict) -> InputScaler:
        scaler = cls.__new__(cls)
        scaler.mode = spec.get("scale", "unit")
        if scaler.mode == "standardize":
            scaler.mean, scaler.std = float(spec["mean"]), float(spec["std"])
        return scaler

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.mode == "unit":
            return x
        if self.mode == "none":
            return x.reshape(len(x), -1).astype(np.float32)
        scaled = x.reshape(len(x), -1).astype(np.float32)
        scaled *= np.float32(1.0 / (255.0 * self.std))
        scaled -= np.float32(self.mean / self.std)
        return scaled


def check_fits_data(config: dict, ds) -> None:
    """The first layer must take the data's features and the last give one output per class."""
    sizes = config["model"]["layers"]
    features = int(np.prod(ds.train.x.shape[1:]))
    if sizes[0] != features:
        raise ConfigError(f"model.layers starts with {sizes[0]} inputs but {ds.name} images have {features} "
                          f"features ({'x'.join(map(str, ds.train.x.shape[1:]))}): start the layers with {features}")
    if sizes[-1] != len(ds.classes):
        raise ConfigError(f"model.layers ends with {sizes[-1]} outputs but {ds.name} has {len(ds.classes)} "
                          f"classes: end the layers with {len(ds.classes)}")


# ----- run folder ------------------------------------------------------------
def new_run_dir(config: dict, out=None, force: bool = False) -> Path:
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{stamp}-{config['name']}"
        suffix = 1
        while out.exists():
            suffix += 1
            out = Path("runs") / f"{stamp}-{config['name']}-{suffix}"
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file: give a folder path")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ConfigError(f"--out {out} exists and is not empty: choose another folder or add --force to overwrite")
    out.mkdir(parents=True, exist_ok=True)
    return out


# ----- printing --------------------------------------------------------------
class EpochTable(Callback):
    """One aligned row per epoch: epoch, seconds, train loss/accuracy, eval loss/accuracy, lr."""

    def __init__(self, stream, eval_label: str):
        self.stream, self.eval_label = stream, eval_label

    def on_train_begin(self, logs):
        short = "val" if self.eval_label == "validation" else "test"
        print(f"{'epoch':>5} {'seconds':>8} {'loss':>9} {'accuracy':>9} {short + ' loss':>9} "
              f"{short + ' acc':>9} {'lr':>9}", file=self.stream, flush=True)

    def on_epoch_end(self, epoch, logs):
        val_loss = f"{logs['val_loss']:9.4f}" if "val_loss" in logs else f"{'-':>9}"
        val_acc = f"{logs['val_accuracy']:9.2%}" if "val_accuracy" in logs else f"{'-':>9}"
        print(f"{epoch + 1:>5} {logs['seconds']:>7.2f}s {logs['loss']:>9.4f} {logs['accuracy']:>9.2%} "
              f"{val_loss} {val_acc} {logs['lr']:>9.3g}", file=self.stream, flush=True)


def metric_rows(history: History, eval_label: str) -> list[dict]:
    """History rows with val_* renamed test_* when the test set was what we evaluated each epoch."""
    order = ["epoch", "seconds", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    rows = [{key: row[key] for key in order if key in row} for row in history.rows()]
    if eval_label == "test":
        rows = [{k.replace("val_", "test_"): v for k, v in row.items()} for row in rows]
    return rows


class RunRecorder(Callback):
    """After every epoch, atomically: metrics.csv and a checkpoint to resume from."""

    def __init__(self, run_dir: Path, eval_label: str, early_stopping: EarlyStopping | None):
        self.run_dir, self.eval_label, self.early_stopping = run_dir, eval_label, early_stopping

    def on_epoch_end(self, epoch, logs):
        model = self.model
        reports.write_metrics_csv(self.run_dir / "metrics.csv", metric_rows(model.history, self.eval_label))
        extra = {"epoch": epoch + 1, "rng": model.rng.bit_generator.state, "history": model.history.history,
                 "history_epochs": model.history.epochs}
        if self.early_stopping is not None:
            stopper = self.early_stopping
            extra["early_stopping"] = {"best": stopper.best, "wait": stopper.wait, "best_epoch": stopper.best_epoch}
        model.save(self.run_dir / CHECKPOINT, include_optimizer=True, extra=extra)


# ----- the run ---------------------------------------------------------------
def run(config: dict, out=None, force: bool = False, quiet: bool = False, stream=None,
        run_dir: Path | None = None, start=None) -> dict:
    """Train `config` into a run folder and return the summary (also written as summary.json).

    `run_dir`/`start` are used by `resume`: an existing folder and a (model, epoch) to continue from.
    """
    stream = stream or sys.stdout
    wall_start = time.perf_counter()
    model, initial_epoch = start if start else (cfg.build_model(config), 0)  # checks every model option
    ds = load_data(config)
    check_fits_data(config, ds)
    scaler = InputScaler(config["data"]["scale"], ds.train.x)
    x, y, x_test = scaler(ds.train.x), ds.train.y, scaler(ds.test.x)
    eval_label = "validation" if ds.validation is not None else "test"
    eval_data = (scaler(ds.validation.x), ds.validation.y) if ds.validation is not None else (x_test, ds.test.y)

    if run_dir is None:
        run_dir = new_run_dir(config, out, force)
        reports.write_text(run_dir / "config.toml", cfg.to_toml(config))
    if not quiet:
        print(f"barenet {__version__}: {config['name']} on {ds.name} ({len(y):,} training images, "
              f"{eval_label} {len(eval_data[1]):,}) -> {run_dir}", file=stream)
        for hint in review(config):
            print(f"hint: {hint}", file=stream)
    callbacks, stopper = _callbacks(config, run_dir, eval_label, quiet, stream)
    if stopper is not None and start and "early_stopping" in model.extra:
        state = model.extra["early_stopping"]
        stopper.on_train_begin({})
        stopper.best, stopper.wait, stopper.best_epoch = state["best"], state["wait"], state["best_epoch"]
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported by TrainingDiverged
            model.fit(x, y, epochs=config["train"]["epochs"], batch_size=cfg.batch_size(config),
                      validation_data=eval_data, shuffle=config["train"]["shuffle"], callbacks=callbacks,
                      initial_epoch=initial_epoch)
    except TrainingDiverged as exc:
        raise TrainingDiverged(f"{exc}; the run folder {run_dir} keeps the last good checkpoint",
                               exc.history) from None
    return finish(model, ds, scaler, x_test, config, run_dir, eval_label, wall_start, quiet, stream)


def _callbacks(config, run_dir, eval_label, quiet, stream):
    train = config["train"]
    callbacks: list[Callback] = []
    stopper = None
    monitor = "val_loss" if eval_label == "validation" else "loss"
    if train["early_stopping"]:
        stopper = EarlyStopping(monitor=monitor, patience=train["early_stopping"], restore_best_weights=True)
        callbacks.append(stopper)
    if train["target_loss"]:
        callbacks.append(StopAtTarget(train["target_loss"], monitor="loss"))
    callbacks.append(RunRecorder(run_dir, eval_label, stopper))
    if not quiet:
        callbacks += [ProgressBar(file=sys.stderr), EpochTable(stream, eval_label)]
    return callbacks, stopper


def model_info(ds, scaler: InputScaler) -> dict:
    """What `evaluate`/`predict` need to feed the saved model: dataset, class names, input scaling."""
    return {"dataset": ds.name, "classes": list(ds.classes), "input": scaler.to_dict(),
            "image_shape": list(ds.train.x.shape[1:])}


def finish(model, ds, scaler, x_test, config, run_dir: Path, eval_label, wall_start, quiet, stream) -> dict:
    """Evaluate on the test set, save the model, the summary and the plots."""
    test = model.evaluate(x_test, ds.test.y)
    model.save(run_dir / "model.safetensors", extra=model_info(ds, scaler))
    rows = metric_rows(model.history, eval_label)
    reports.write_metrics_csv(run_dir / "metrics.csv", rows)
    proba = model.predict_proba(x_test)
    counts = reports.confusion_matrix(ds.test.y, proba.argmax(axis=1), len(ds.classes))
    plots = write_plots(model, ds, proba, counts, rows, run_dir, eval_label)
    train_seconds = float(sum(row["seconds"] for row in rows))
    summary = {
        "name": config["name"], "dataset": ds.name, "barenet_version": __version__,
        "test_accuracy": test["accuracy"], "test_loss": test["loss"],
        "epochs_run": len(rows), "epochs_planned": config["train"]["epochs"],
        "train_seconds": round(train_seconds, 3), "wall_seconds": round(time.perf_counter() - wall_start, 3),
        "final_epoch": rows[-1] if rows else {}, "per_class": reports.per_class_scores(counts),
        "run_dir": str(run_dir),
        "files": sorted(["config.toml", "model.safetensors", "metrics.csv", "summary.json", CHECKPOINT, *plots]),
    }
    reports.write_json(run_dir / "summary.json", summary)
    if not quiet:
        print(f"test accuracy {test['accuracy']:.2%} (loss {test['loss']:.4f}) after {len(rows)} epochs; "
              f"training {train_seconds:.1f}s, total {summary['wall_seconds']:.1f}s", file=stream)
        print(f"saved to {run_dir}/: {', '.join(summary['files'])}", file=stream)
    return summary


def write_plots(model, ds, proba, counts, rows, run_dir: Path, eval_label: str) -> list[str]:
    written = ["learning_curves.png", "confusion_matrix.png", "misclassified.png"]
    reports.plot_learning_curves(rows, run_dir / written[0], eval_label)
    reports.plot_confusion_matrix(counts, ds.classes, run_dir / written[1], title=f"{ds.name} test set")
    reports.plot_misclassified(ds.test.x, ds.test.y, proba, ds.classes, run_dir / written[2])
    first = next((layer for layer in model.layers if "W" in layer.params), None)
    if first is not None:
        reports.plot_first_layer(np.asarray(first.params["W"]), run_dir / "first_layer_weights.png")
        written.append("first_layer_weights.png")
    return written


def resume(run_dir, quiet: bool = False, stream=None) -> dict:
    """Continue the run in `run_dir` from its last checkpoint (or from the start if it has none)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.toml"
    if not config_path.is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.toml): give the folder a training run wrote")
    config = cfg.resolve(path=config_path)
    start = None
    if (run_dir / CHECKPOINT).is_file():
        model = serialization.load(run_dir / CHECKPOINT)
        extra = model.extra
        model.rng.bit_generator.state = extra["rng"]
        history = History()
        history.history, history.epochs = extra["history"], extra["history_epochs"]
        model.history = history
        if extra["epoch"] >= config["train"]["epochs"] and not quiet:
            print(f"{run_dir} already finished its {extra['epoch']} epochs: writing the final reports",
                  file=stream or sys.stdout)
        start = (model, extra["epoch"])
    return run(config, quiet=quiet, stream=stream, run_dir=run_dir, start=start)


# ----- reviewer hints --------------------------------------------------------
def review(config: dict) -> list[str]:
    """One-line notes on fragile choices, as a reviewer would make them, plus the recipe's own hints."""
    hints = list(config.get("hints", []))
    model, loss, opt, train = config["model"], config["loss"], config["optimizer"], config["train"]
    if loss["name"] in ("mse", "mean_squared_error") and model["output"] == "softmax":
        hints.append("MSE on softmax outputs has weak gradients when the network is confidently wrong; "
                     "softmax_cross_entropy learns faster")
    if config["data"]["scale"] == "none":
        hints.append("inputs are raw 0-255 pixels: sigmoid/softmax units saturate; use data.scale = 'unit'")
    if train["batch_size"] == 1 and opt["lr"] <= 0.001 and opt["name"] == "sgd" and not opt.get("momentum"):
        hints.append(f"per-sample SGD at lr {opt['lr']} takes small steps; lr 0.01 learns several times faster")
    if loss.get("reduction") == "sum" and train["batch_size"] not in (1,):
        hints.append("summed (not averaged) gradients make the effective step grow with the batch size")
    return hints
