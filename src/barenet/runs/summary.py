"""A run's end: the one test-set evaluation, model.safetensors (with what predict and evaluate need to
feed it), metrics.csv, the plots, health.csv and summary.json with the training doctor's diagnoses; a run
stopped by divergence or a signal writes its summary.json too (`stopped`)."""

from __future__ import annotations

import time
from pathlib import Path

from ..data.loader import Dataset
from ..errors import BarenetError, warn
from ..io.files import write_json
from ..models.scaling import InputScaler
from ..training.doctor import Doctor
from ..training.trainer import Trainer
from ..version import __version__
from . import reports
from .folder import CHECKPOINT
from .health import print_diagnoses, write_health
from .prepared import Prepared
from .recording import metric_rows


def model_info(ds: Dataset, scaler: InputScaler, data_dir: str = "") -> dict:
    """What `evaluate`/`predict` need to feed the saved model: dataset, the folder it was read from
    (when one was given), class names, input scaling, and how many of the last training images were held
    out for validation (so `barenet ensemble --on validation` can score a committee on images no member saw)."""
    held = len(ds.validation) if ds.validation is not None else 0
    return {"dataset": ds.name, "data_dir": data_dir, "classes": list(ds.classes), "input": scaler.to_dict(),
            "image_shape": list(ds.train.x.shape[1:]), "validation": held}


def _absolute(folder: str) -> str:
    return str(Path(folder).expanduser().resolve()) if folder else ""


def finish(prepared: Prepared, trainer: Trainer, doctor: Doctor, run_dir: Path, wall_start: float, quiet: bool,
           stream, resumed: bool = False) -> dict:
    """Evaluate on the test set, save the model, the summary (with the doctor's diagnoses) and the plots."""
    model, ds, config = prepared.model, prepared.ds, prepared.config
    x_test = prepared.scaler(ds.test.x)
    test = trainer.evaluate(x_test, ds.test.y)
    info = model_info(ds, prepared.scaler, _absolute(config["data"]["data_dir"]))
    model.save(run_dir / "model.safetensors", extra={**info, "name": config["name"], "test_accuracy": test["accuracy"]})
    rows = metric_rows(trainer.history)
    reports.write_metrics_csv(run_dir / "metrics.csv", rows)
    proba = model.predict_proba(x_test)
    counts = reports.confusion_matrix(ds.test.y, proba.argmax(axis=1), len(ds.classes))
    plots = reports.write_plots(model, ds, proba, counts, rows, run_dir)
    plots += write_health(run_dir, doctor, title=f"{run_dir.name}: training health")
    summary = {
        **_record(prepared, rows, doctor, wall_start), "test_accuracy": test["accuracy"], "test_loss": test["loss"],
        "per_class": reports.per_class_scores(counts, list(ds.classes)), "run_dir": str(run_dir),
        "files": sorted(["config.toml", "model.safetensors", "metrics.csv", "summary.json", CHECKPOINT, *plots]),
    }
    write_json(run_dir / "summary.json", summary)
    if not quiet:
        train_seconds = summary["train_seconds"]
        timing = (f"training {train_seconds:.1f}s over all sessions, this session {summary['wall_seconds']:.1f}s"
                  if resumed else f"training {train_seconds:.1f}s, total {summary['wall_seconds']:.1f}s")
        print(f"test accuracy {test['accuracy']:.2%} (loss {test['loss']:.4f}) after {len(rows)} epochs; {timing}",
              file=stream)
        print_diagnoses(doctor.diagnoses, stream)
        print(f"saved to {run_dir}/: {', '.join(summary['files'])}", file=stream)
    return summary


def _record(prepared: Prepared, rows: list[dict], doctor: Doctor, wall_start: float) -> dict:
    """What every summary.json holds: the run, its epochs and times, the best validation epoch, the diagnoses."""
    config = prepared.config
    return {"name": config["name"], "dataset": prepared.ds.name, "barenet_version": __version__,
            "backend": prepared.model.backend.settings(), "status": "finished", "epochs_run": len(rows),
            "epochs_planned": config["train"]["epochs"],
            "train_seconds": round(float(sum(row["seconds"] for row in rows)), 3),
            "wall_seconds": round(time.perf_counter() - wall_start, 3), "final_epoch": rows[-1] if rows else {},
            **best_validation(rows), "diagnoses": [d.to_dict() for d in doctor.diagnoses]}


def stopped(prepared: Prepared, trainer: Trainer, doctor: Doctor, run_dir: Path, how: tuple[str, str],
            wall_start: float, quiet: bool, stream) -> None:
    """A run stopped by divergence or a signal: summary.json (status "diverged" or "interrupted", the message,
    the diagnoses so far; no test set) and the health files, then the diagnoses printed again."""
    status, message = how
    rows = metric_rows(trainer.history)
    try:  # what stopped the run is the error to report: a failed write here (a full disk) only warns
        files = ["config.toml", "summary.json", *write_health(run_dir, doctor, f"{run_dir.name}: training health")]
        files += [name for name in ("metrics.csv", CHECKPOINT) if (run_dir / name).is_file()]
        summary = {**_record(prepared, rows, doctor, wall_start), "status": status, "stopped": message,
                   "run_dir": str(run_dir), "files": sorted(files)}
        write_json(run_dir / "summary.json", summary)
    except BarenetError as exc:
        warn(f"the stopped run's summary was not written: {exc}")
    if not quiet and doctor.diagnoses:
        print_diagnoses(doctor.diagnoses, stream)


def best_validation(rows: list[dict]) -> dict:
    """{"best_val_accuracy": ..., "best_val_epoch": ...} over the epochs run ({} without a validation split)."""
    scored = [row for row in rows if "val_accuracy" in row]
    if not scored:
        return {}
    best = max(scored, key=lambda row: row["val_accuracy"])
    return {"best_val_accuracy": best["val_accuracy"], "best_val_epoch": best["epoch"]}
