"""Past runs: list the run folders under `runs/`, and compare two of them (curves and config differences).

    list_runs("runs")            # one dict per run folder, oldest first
    find_run("runs", "mnist")    # a folder path, or the one folder whose name contains the text
    config_diff(a, b)            # [("optimizer.lr", 0.1, 0.05), ...] for two configs
    plot_compare(run_a, run_b, "compare.png")
"""

from __future__ import annotations

import csv
import json
import tomllib
from datetime import datetime
from pathlib import Path

from ..errors import ConfigError
from . import reports

MISSING = "(absent)"
MAX_DEPTH = 3  # runs/RUN, runs/GRID/RUN, runs/SWEEP/trials/NNNN


def read_run(folder: Path) -> dict | None:
    """What a run folder says about itself: config, summary (None until it finished), metrics rows; None
    when the folder holds no readable config.toml (it is not a run folder)."""
    try:
        config = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        summary = None
    return {"folder": folder, "config": config, "summary": summary, "metrics": read_metrics(folder)}


def read_metrics(folder: Path) -> list[dict]:
    """metrics.csv as one dict of floats per epoch ([] when there is none yet)."""
    try:
        with open(folder / "metrics.csv", newline="", encoding="utf-8") as handle:
            return [{key: float(value) for key, value in row.items() if value} for row in csv.DictReader(handle)]
    except (OSError, ValueError):
        return []


def list_runs(root) -> list[dict]:
    """One row per run folder under `root`, nested ones included (a grid's runs, a sweep's trials), oldest first:
    folder, started (datetime), name, dataset, layers, epochs (run, planned), test_accuracy (None unless
    finished), train_seconds, status (finished, diverged, interrupted, unfinished, not started), problems (the
    doctor's codes; None: no diagnoses)."""
    runs = [run for folder in run_folders(Path(root)) if (run := read_run(folder))]
    return sorted((_row(run) for run in runs), key=lambda row: (row["started"], str(row["folder"])))


def run_folders(root: Path, depth: int = MAX_DEPTH) -> list[Path]:
    """Folders under `root` holding a config.toml, looked for `depth` levels down (runs/grid-x/RUN,
    runs/sweep-x/trials/NNNN); a run folder's own subfolders, hidden folders and links to folders that are no
    run (a loop, or somewhere else entirely) are not searched."""
    if depth == 0 or not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if (folder / "config.toml").is_file():
            found.append(folder)
        elif folder.is_dir() and not folder.name.startswith(".") and not folder.is_symlink():
            found += run_folders(folder, depth - 1)
    return found


def _row(run: dict) -> dict:
    config, metrics = run["config"], run["metrics"]
    summary = run["summary"] if isinstance(run["summary"], dict) else {}
    folder: Path = run["folder"]
    planned = config.get("train", {}).get("epochs", "?")
    return {
        "folder": folder, "started": datetime.fromtimestamp((folder / "config.toml").stat().st_mtime),
        "name": config.get("name", "?"), "dataset": config.get("data", {}).get("dataset", "?"),
        "layers": config.get("model", {}).get("layers", []),
        "epochs": (summary.get("epochs_run", len(metrics)), planned),
        "test_accuracy": summary.get("test_accuracy"),
        "train_seconds": summary.get("train_seconds", sum(row.get("seconds", 0.0) for row in metrics)),
        "status": summary.get("status", "finished") if summary else ("unfinished" if metrics else "not started"),
        "problems": problem_codes(summary),
    }


def problem_codes(summary: dict) -> list[str] | None:
    """The codes of the problems the training doctor recorded in a summary.json; None when it recorded none
    (a run trained before the doctor, or not finished)."""
    diagnoses = summary.get("diagnoses")
    if not isinstance(diagnoses, list):
        return None
    return [str(d.get("code")) for d in diagnoses if isinstance(d, dict) and d.get("severity") == "problem"]


def _doctor_cell(problems: list[str] | None) -> str:
    """"ok", the problem codes (at most two, then +N), or "-" when the run has no diagnoses."""
    if problems is None:
        return "-"
    if not problems:
        return "ok"
    return ", ".join(problems[:2]) + (f" +{len(problems) - 2}" if len(problems) > 2 else "")


def format_runs(rows: list[dict], root=".") -> str:
    """An aligned table of `list_runs(root)` rows, each run named by its path under `root`; the last column names
    the problems the training doctor found."""
    header = ["started", "run", "recipe", "dataset", "layers", "epochs", "test acc", "train s", "doctor"]
    body = [[row["started"].strftime("%Y-%m-%d %H:%M"), _under(row["folder"], root), row["name"], row["dataset"],
             "x".join(map(str, row["layers"])), f"{row['epochs'][0]}/{row['epochs'][1]}",
             f"{row['test_accuracy']:.2%}" if row["test_accuracy"] is not None else row["status"],
             f"{row['train_seconds']:.1f}", _doctor_cell(row["problems"])] for row in rows]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(header)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in [header, *body])


def _under(folder: Path, root) -> str:
    try:
        return str(folder.relative_to(root))
    except ValueError:
        return str(folder)


def find_run(root, text: str) -> Path:
    """The run folder `text` names: a path to one, a folder path under `root`, or the single run under `root`
    (nested ones included) whose path there contains `text`. ConfigError naming the choices otherwise."""
    given = Path(text)
    for candidate in (given, Path(root) / text):
        if (candidate / "config.toml").is_file():
            return candidate
    matches = [row["folder"] for row in list_runs(root) if text in _under(row["folder"], root)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError(f"no run folder {text!r} (nor one under {root} whose name contains it): "
                          f"give a run folder, see 'barenet runs'")
    raise ConfigError(f"{text!r} matches {len(matches)} runs ({', '.join(_under(m, root) for m in matches[:4])}"
                      f"{', ...' if len(matches) > 4 else ''}): give more of the name")


def flatten(config: dict, prefix: str = "") -> dict:
    """{"optimizer.lr": 0.1, ...} from a nested config."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_diff(a: dict, b: dict) -> list[tuple[str, object, object]]:
    """(key, value in a, value in b) for every config key whose values differ, keys in a's order then b's."""
    fa, fb = flatten(a), flatten(b)
    keys = list(dict.fromkeys([*fa, *fb]))
    return [(key, fa.get(key, MISSING), fb.get(key, MISSING)) for key in keys if fa.get(key, MISSING) !=
            fb.get(key, MISSING)]


def plot_compare(runs: list[dict], path) -> None:
    """Loss (log) and accuracy (%) per epoch of each run on one figure: train solid, evaluation dashed."""
    plt = reports.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for index, run in enumerate(runs):
        color, label, rows = f"C{index}", run["folder"].name, run["metrics"]
        epochs = [row["epoch"] for row in rows]
        for ax, metric, scale in ((axes[0], "loss", 1.0), (axes[1], "accuracy", 100.0)):
            ax.plot(epochs, [row[metric] * scale for row in rows], "-", color=color, label=f"{label} train")
            key = next((k for k in (f"val_{metric}", f"test_{metric}") if rows and k in rows[0]), None)
            if key:
                ax.plot(epochs, [row[key] * scale for row in rows], "--", color=color,
                        label=f"{label} {key.split('_')[0]}")
    axes[0].set_yscale("log")
    axes[0].set_title("loss")
    axes[1].set_title("accuracy (%)")
    keys = ("accuracy", "val_accuracy", "test_accuracy")
    percents = [row[k] * 100 for run in runs for row in run["metrics"] for k in keys if k in row]
    axes[1].set_ylim(*reports.focus_range(percents, spread=100.0))
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[1].legend(fontsize=7)
    fig.suptitle(" vs ".join(run["folder"].name for run in runs))
    reports.save_figure(fig, path)
