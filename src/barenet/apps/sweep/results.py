"""A study's results: one row per trial, the table of the best, the best configuration as TOML, the files.

    SWEEP/results.csv  results.md     every trial: number, status, validation accuracy, values, epochs, the training
                                      doctor's codes, run folder
    SWEEP/best.toml                   the best `ok` trial's full configuration: `barenet train --config` reruns it
    SWEEP/history.png  importance.png  params.png      (plots.py)

Statuses: ok, collapsed, diverged (apps.outcome), pruned, failed, running, waiting (Optuna's state).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...io.files import write_text
from ...runs import reports
from ..outcome import OK

RANK = {"ok": 0, "collapsed": 1, "pruned": 2, "diverged": 3}
COLUMNS = ("trial", "status", "validation_accuracy", "epochs", "seconds")


def status_of(trial) -> str:
    """The trial's status word: what the trial recorded, else Optuna's state ("fail" reads "failed")."""
    recorded = trial.user_attrs.get("status")
    if recorded and trial.state.name in ("COMPLETE", "PRUNED"):
        return recorded
    return {"FAIL": "failed", "PRUNED": "pruned"}.get(trial.state.name, trial.state.name.lower())


def accuracy_of(trial) -> float | None:
    """The last validation accuracy the trial reported (a diverged trial's 0.0 is no accuracy: None)."""
    if status_of(trial) == "diverged" or not trial.intermediate_values:
        return None
    return float(trial.intermediate_values[max(trial.intermediate_values)])


def trial_rows(study, keys: list[str]) -> list[dict]:
    """One row per trial, the parameters `keys` as columns (as stored: numbers, or the choice's text)."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"trial": trial.number, "status": status_of(trial),
                               "validation_accuracy": accuracy_of(trial), "epochs": trial.user_attrs.get("epochs", 0),
                               "seconds": trial.user_attrs.get("seconds", 0.0),
                               "doctor": " ".join(map(str, trial.user_attrs.get("diagnoses", [])))}
        row.update({key: trial.params.get(key, "") for key in keys})
        row["run_dir"] = trial.user_attrs.get("run_dir", "")
        rows.append(row)
    return rows


def ranked(rows: list[dict]) -> list[dict]:
    """ok trials by validation accuracy, best first; then collapsed, pruned, diverged, failed, running."""
    return sorted(rows, key=lambda r: (RANK.get(r["status"], 9), -(r["validation_accuracy"] or 0.0), r["trial"]))


def tally(rows: list[dict]) -> str:
    """"12 trials: 8 ok, 3 pruned, 1 diverged"."""
    found: dict[str, int] = {}
    for row in ranked(rows):
        found[row["status"]] = found.get(row["status"], 0) + 1
    return f"{len(rows)} trials: " + ", ".join(f"{count} {status}" for status, count in found.items())


def format_table(rows: list[dict], keys: list[str], top: int = 10) -> str:
    """An aligned text table of the `top` best trials."""
    header = ["rank", "trial", "val acc", *keys, "epochs", "seconds", "status", "doctor"]
    body = [[str(i + 1), str(r["trial"]), _percent(r["validation_accuracy"]), *(_text(r[k]) for k in keys),
             str(r["epochs"]), f"{r['seconds']:.1f}", r["status"], r.get("doctor") or "-"]
            for i, r in enumerate(ranked(rows)[:top])]
    widths = [max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in [header, *body]]
    return "\n".join(line.rstrip() for line in lines)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _text(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def best_trial(study) -> Any:
    """The `ok` trial with the highest validation accuracy, or None."""
    ok = [t for t in study.get_trials(deepcopy=False) if status_of(t) == OK and t.value is not None]
    return max(ok, key=lambda t: (t.value, -t.number), default=None)


def best_config_text(study) -> str | None:
    """The best trial's configuration as TOML, headed by a comment saying where it comes from."""
    trial = best_trial(study)
    if trial is None or "config" not in trial.user_attrs:
        return None
    head = (f"# best trial {trial.number} of sweep study {study.study_name!r}: validation accuracy "
            f"{trial.value:.2%}\n# rerun: barenet train --config best.toml\n")
    return head + trial.user_attrs["config"]


def write_results(study, keys: list[str], out: Path) -> list[str]:
    """results.csv, results.md, best.toml and the plots in `out`; returns the names written."""
    from . import plots

    rows = trial_rows(study, keys)
    if not rows:
        return []
    reports.write_metrics_csv(out / "results.csv", ranked(rows))
    write_text(out / "results.md", markdown(rows, keys))
    written = ["results.csv", "results.md"]
    text = best_config_text(study)
    if text is not None:
        write_text(out / "best.toml", text)
        written.append("best.toml")
    return written + plots.write_plots(study, rows, keys, out)


def markdown(rows: list[dict], keys: list[str]) -> str:
    lines = ["| trial | validation accuracy | " + " | ".join(keys) + " | epochs | seconds | status | doctor |",
             "|" + "---|" * (len(keys) + 6)]
    for r in ranked(rows):
        cells = [str(r["trial"]), _percent(r["validation_accuracy"]), *(_text(r[k]) for k in keys), str(r["epochs"]),
                 f"{r['seconds']:.1f}", r["status"], r.get("doctor") or "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return f"{tally(rows)}\n\n" + "\n".join(lines) + "\n"
