"""A small local grid search: every combination of a few config values, trained in parallel processes.

    rows = run_grid(config, {"optimizer.lr": [0.1, 0.01], "train.batch_size": [32, 128]}, out="runs/grid")

Each combination trains as an ordinary run (its own folder with config.toml,
metrics, plots); the grid folder gets results.csv, results.md and grid.png
(validation accuracy against each swept value). Runs are ranked and plotted by their
final validation accuracy; the test accuracy is shown beside it, never used to rank
(only a config with `data.validation = 0` falls back to it, and says so). A run's status is `ok` only when it
learned (`apps.outcome.classify`): `collapsed` near chance, `diverged` on a NaN. The `doctor` column holds the
codes of what the training doctor found in the run (e.g. `dead-relus lr-too-high`; `-` for none).
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from threadpoolctl import threadpool_limits

from ..errors import BarenetError, ConfigError, TrainingDiverged
from ..io.files import make_dir, write_text
from ..runs import config as cfg
from ..runs import reports
from ..runs.run import run
from .outcome import DIVERGED, classify, final_accuracy


def combinations(params: dict[str, list]) -> list[dict]:
    """Every combination of the swept values, as override dicts, in a stable order."""
    if not params:
        raise ConfigError("a grid needs at least one --param KEY=V1,V2,...")
    keys = list(params)
    return [dict(zip(keys, values)) for values in itertools.product(*(params[k] for k in keys))]


def _label(overrides: dict) -> str:
    text = "_".join(f"{key.split('.')[-1]}={value}" for key, value in overrides.items())
    return text.replace(" ", "").replace("/", "-").replace("[", "").replace("]", "").replace(",", "-")


def _train_one(job: tuple) -> dict:
    """Run one combination in a worker process (one BLAS thread each: the workers share the cores)."""
    config, overrides, run_dir = job
    row = {**overrides}
    try:
        with threadpool_limits(1):
            summary = run(config, out=run_dir, force=True, quiet=True)
        status = classify(final_accuracy(summary), config["model"]["layers"][-1])
        row.update(status=status, val_accuracy=summary["final_epoch"].get("val_accuracy", float("nan")),
                   test_accuracy=summary["test_accuracy"], test_loss=summary["test_loss"],
                   epochs=summary["epochs_run"], train_seconds=summary["train_seconds"],
                   doctor=" ".join(d["code"] for d in summary.get("diagnoses", [])))
    except BarenetError as exc:
        status = DIVERGED if isinstance(exc, TrainingDiverged) else "failed"
        found = getattr(getattr(exc, "history", None), "diagnoses", [])
        row.update(status=f"{status}: {exc}", val_accuracy=float("nan"), test_accuracy=float("nan"),
                   test_loss=float("nan"), epochs=0, train_seconds=0.0, doctor=" ".join(d.code for d in found))
    row["run_dir"] = str(run_dir)
    return row


def run_grid(base: dict, params: dict[str, list], out, workers: int | None = None, progress=None) -> list[dict]:
    """Train every combination; return one result row per combination (also written to `out`)."""
    out = Path(out)
    jobs = []
    for i, overrides in enumerate(combinations(params)):
        config = cfg.with_overrides(base, overrides)  # every combination is valid before anything trains
        config = {**config, "name": f"{base['name']}-{_label(overrides)}"}
        jobs.append((config, overrides, out / f"{i:03d}-{_label(overrides)}"))
    make_dir(out)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    rows = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for row in pool.map(_train_one, jobs):
            rows.append(row)
            if progress:
                progress(row, len(rows), len(jobs))
    write_results(rows, list(params), out)
    return rows


def ranked_by(rows: list[dict]) -> str:
    """"val_accuracy" when the runs held out a validation set (they are ranked on it), else "test_accuracy"."""
    return "val_accuracy" if any(math.isfinite(r.get("val_accuracy", math.nan)) for r in rows) else "test_accuracy"


def _cells(row: dict, keys: list[str]) -> list[str]:
    return [str(row[k]) for k in keys] + [f"{row.get('val_accuracy', math.nan):.2%}", f"{row['test_accuracy']:.2%}",
                                          str(row["epochs"]), f"{row['train_seconds']:.1f}", row["status"],
                                          row.get("doctor") or "-"]


def format_table(rows: list[dict], keys: list[str]) -> str:
    header = [*keys, "val acc", "test acc", "epochs", "seconds", "status", "doctor"]
    body = [_cells(r, keys) for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in body]
    return "\n".join(lines)


def write_results(rows: list[dict], keys: list[str], out: Path) -> None:
    reports.write_metrics_csv(out / "results.csv", rows)
    score = ranked_by(rows)
    table = [f"Ranked by {score.replace('_', ' ')}.", "",
             "| " + " | ".join([*keys, "validation accuracy", "test accuracy", "epochs", "train s", "status",
                                 "doctor"]) + " |",
             "|" + "---|" * (len(keys) + 6)]
    for r in sorted(rows, key=lambda r: -(r[score] if r["status"] == "ok" else -1)):
        table.append("| " + " | ".join(_cells(r, keys)) + " |")
    write_text(out / "results.md", "\n".join(table) + "\n")
    plot_grid(rows, keys, out / "grid.png")


def plot_grid(rows: list[dict], keys: list[str], path) -> None:
    """Validation accuracy (%) against each swept value (test accuracy for runs without a validation split):
    every run as a dot, the best per value joined by a line.
    The y range shows the good runs apart; a run that collapsed far below them is drawn as a red marker on
    the bottom edge, labelled with its accuracy."""
    plt = reports.pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4.8 * len(keys), 3.8), squeeze=False, layout="constrained")
    score = ranked_by(rows)
    measured = [r for r in rows if math.isfinite(r[score])]  # ok and collapsed runs
    low, high = reports.focus_range([100 * r[score] for r in measured])
    for ax, key in zip(axes[0], keys):
        values = list(dict.fromkeys(str(r[key]) for r in rows))  # str: lists (layer sizes) are values too
        positions = {v: i for i, v in enumerate(values)}
        points = [(positions[str(r[key])], 100 * r[score]) for r in measured]
        ax.scatter([x for x, y in points if y >= low], [y for x, y in points if y >= low], alpha=0.6)
        for x, y in ((x, y) for x, y in points if y < low):
            ax.plot(x, low, "v", color="tab:red", clip_on=False)
            ax.annotate(f"{y:.1f}%", (x, low), textcoords="offset points", xytext=(4, 4), color="tab:red", fontsize=8)
        best = [max((y for x, y in points if x == positions[v]), default=float("nan")) for v in values]
        ax.plot(range(len(values)), best, "r-", label="best")
        ax.set_xticks(range(len(values)), values, rotation=20, ha="right")
        ax.set_ylim(low, high)
        ax.set_xlabel(key)
        ax.set_ylabel(f"{score.split('_')[0].replace('val', 'validation')} accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle(f"{len(rows)} runs over {', '.join(keys)}")
    reports.save_figure(fig, path)
