"""A sweep's plots (matplotlib, Agg, imported on first use), from the study alone:

    history.png     validation accuracy of every trial in order, and the best so far
    importance.png  how much each parameter mattered (Optuna's default evaluator, PED-ANOVA: no scikit-learn)
    params.png      validation accuracy against each parameter (log axis for log ranges)

Accuracies more than 15 points below the best (collapsed trials, hopeless pruned ones) are drawn as
red markers on the bottom edge, so the good trials stay apart (`reports.focus_range`).
"""

from __future__ import annotations

from pathlib import Path

from ...runs import reports
from .engine import optuna

COLORS = {"ok": "tab:blue", "pruned": "tab:gray", "collapsed": "tab:red"}


def write_plots(study, rows: list[dict], keys: list[str], out: Path) -> list[str]:
    """The three plots in `out`; returns their names."""
    measured = [r for r in rows if r["validation_accuracy"] is not None]
    low, high = reports.focus_range([100 * r["validation_accuracy"] for r in measured])
    plot_history(measured, (low, high), out / "history.png", study.study_name)
    plot_importance(study, out / "importance.png")
    plot_params(study, measured, keys, (low, high), out / "params.png")
    return ["history.png", "importance.png", "params.png"]


def _scatter(ax, points: list[tuple], low: float) -> None:
    """(x, accuracy %, status) points; those under `low` drawn on the bottom edge in red, labelled."""
    for status in COLORS:
        shown = [(x, y) for x, y, s in points if s == status and y >= low]
        if shown:
            ax.scatter(*zip(*shown), color=COLORS[status], alpha=0.7, label=status, s=22)
    for x, y, _ in (p for p in points if p[1] < low):
        ax.plot(x, low, "v", color="tab:red", clip_on=False)
        ax.annotate(f"{y:.0f}%", (x, low), textcoords="offset points", xytext=(3, 3), color="tab:red", fontsize=7)


def plot_history(rows: list[dict], ylim: tuple[float, float], path: Path, name: str) -> None:
    plt = reports.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    points = [(r["trial"], 100 * r["validation_accuracy"], r["status"]) for r in rows]
    _scatter(ax, points, ylim[0])
    best, line = float("-inf"), []
    for number, accuracy, status in sorted(points):
        best = max(best, accuracy) if status == "ok" else best
        line.append((number, best))
    if any(y > float("-inf") for _, y in line):
        ax.step(*zip(*[(x, y) for x, y in line if y > float("-inf")]), where="post", color="tab:green",
                label="best so far")
    ax.set(ylim=ylim, xlabel="trial", ylabel="validation accuracy (%)", title=f"sweep {name}: {len(rows)} trials")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    reports.save_figure(fig, path)


def importances(study) -> dict[str, float]:
    """Parameter -> importance (summing to 1), or {} when the study has too few finished trials to tell."""
    try:
        return dict(optuna().importance.get_param_importances(study))
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}


def plot_importance(study, path: Path) -> None:
    plt = reports.pyplot()
    found = importances(study)
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * max(len(found), 2)), layout="constrained")
    if found:
        names = list(found)[::-1]
        ax.barh(names, [found[n] for n in names], color="tab:blue")
        ax.set_xlabel("importance for validation accuracy (PED-ANOVA)")
    else:
        ax.text(0.5, 0.5, "too few completed trials to rank the parameters", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title("parameter importance")
    reports.save_figure(fig, path)


def plot_params(study, rows: list[dict], keys: list[str], ylim: tuple[float, float], path: Path) -> None:
    """Validation accuracy against each parameter: numbers on their axis (log for log ranges), choices in order."""
    plt = reports.pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.8), squeeze=False, layout="constrained")
    distributions = {k: d for t in study.get_trials(deepcopy=False) for k, d in t.distributions.items()}
    for ax, key in zip(axes[0], keys):
        choices = getattr(distributions.get(key), "choices", None)
        position = {c: i for i, c in enumerate(choices)} if choices else None
        points = [(position[r[key]] if position else r[key], 100 * r["validation_accuracy"], r["status"])
                  for r in rows if r[key] != "" and (position is None or r[key] in position)]
        _scatter(ax, points, ylim[0])
        if position:
            ax.set_xticks(range(len(position)), [str(c) for c in position], rotation=20, ha="right")
        elif getattr(distributions.get(key), "log", False):
            ax.set_xscale("log")
        ax.set(ylim=ylim, xlabel=key, ylabel="validation accuracy (%)")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{len(rows)} trials of sweep {study.study_name}")
    reports.save_figure(fig, path)
