"""Run reports: metrics a person reads (per-class precision/recall/F1) and plots a person looks at.

matplotlib is imported only inside the plotting functions, with the Agg backend,
so `import barenet` stays NumPy-only and nothing needs a display. Every PNG is
written atomically (temp file, then rename).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..io.files import atomic_write, write_text

if TYPE_CHECKING:
    from ..data.loader import Dataset
    from ..models.sequential import Sequential


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """counts[t, p] = how many samples of true class t were predicted as p; shape (classes, classes)."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return counts


def per_class_scores(counts: np.ndarray, class_names: list[str] | None = None) -> list[dict]:
    """Precision, recall, F1 and support per class from a confusion matrix (classes, classes),
    each row led by its class name ("class") when `class_names` are given."""
    rows = []
    for k in range(counts.shape[0]):
        tp = counts[k, k]
        predicted, actual = counts[:, k].sum(), counts[k, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({**({"class": class_names[k]} if class_names else {}), "precision": float(precision),
                     "recall": float(recall), "f1": float(f1), "support": int(actual)})
    return rows


def format_scores(rows: list[dict], class_names: list[str]) -> str:
    """An aligned text table of per_class_scores, with a macro average."""
    width = max(12, *(len(name) for name in class_names))
    lines = [f"{'class':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
    for name, row in zip(class_names, rows):
        lines.append(f"{name:<{width}} {row['precision']:>9.4f} {row['recall']:>9.4f} {row['f1']:>9.4f} "
                     f"{row['support']:>8}")
    macro = {key: float(np.mean([r[key] for r in rows])) for key in ("precision", "recall", "f1")}
    lines.append(f"{'macro avg':<{width}} {macro['precision']:>9.4f} {macro['recall']:>9.4f} {macro['f1']:>9.4f} "
                 f"{sum(r['support'] for r in rows):>8}")
    return "\n".join(lines)


# ----- text artifacts --------------------------------------------------------
def write_metrics_csv(path, rows: list[dict]) -> None:
    """One row per epoch; columns from the first row."""
    if not rows:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


# ----- plots -----------------------------------------------------------------
def pyplot():
    """matplotlib.pyplot with the Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> None:
    """Write `fig` as a PNG atomically and close it."""
    try:
        atomic_write(path, lambda temp: fig.savefig(temp, format="png", dpi=100, bbox_inches="tight"))
    finally:
        pyplot().close(fig)


def focus_range(percents: list[float], spread: float = 15.0) -> tuple[float, float]:
    """A y range (low, high) in percent that shows the good values apart: values more than `spread` points
    below the best (a collapsed run at 10%) fall under `low` and are drawn at the edge instead."""
    finite = [p for p in percents if math.isfinite(p)]
    if not finite:
        return 0.0, 100.0
    best = max(finite)
    close = [p for p in finite if p >= best - spread]
    margin = max(0.5, 0.08 * (best - min(close)))
    return max(0.0, min(close) - margin), min(100.0, best + margin)


def plot_learning_curves(rows: list[dict], path, title: str = "") -> None:
    """Loss (log scale), accuracy in percent and the learning rate per epoch: train, validation and (when
    it was evaluated every epoch) test, side by side, under `title` (the run's name)."""
    plt = pyplot()
    epochs = [row["epoch"] for row in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1, 1, 0.7]}, layout="constrained")
    for ax, metric, scale in ((axes[0], "loss", 1.0), (axes[1], "accuracy", 100.0)):
        ax.plot(epochs, [r[metric] * scale for r in rows], "o-", label="train")
        for prefix, label, marker in (("val", "validation", "s-"), ("test", "test", "^--")):
            if f"{prefix}_{metric}" in rows[0]:
                ax.plot(epochs, [r[f"{prefix}_{metric}"] * scale for r in rows], marker, label=label)
        ax.set_title("loss" if metric == "loss" else "accuracy (%)")
        ax.legend()
    axes[0].set_yscale("log")
    percents = [r[k] * 100 for r in rows for k in ("accuracy", "val_accuracy", "test_accuracy") if k in r]
    axes[1].set_ylim(*focus_range(percents, spread=100.0))
    axes[2].plot(epochs, [r.get("lr", math.nan) for r in rows], "d-", color="tab:green")
    axes[2].set_title("learning rate")
    lrs = [r["lr"] for r in rows if r.get("lr", 0) > 0]
    if lrs and max(lrs) > 3 * min(lrs):
        axes[2].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)


def plot_confusion_matrix(counts: np.ndarray, class_names: list[str], path, title: str = "") -> None:
    plt = pyplot()
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * k, 0.6 + 0.6 * k))
    ax.imshow(np.log1p(counts), cmap="Blues")
    for t in range(k):
        for p in range(k):
            if counts[t, p]:
                shade = "white" if counts[t, p] > counts.max() / 3 else "black"
                ax.text(p, t, str(counts[t, p]), ha="center", va="center", fontsize=7, color=shade)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"confusion matrix ({counts.trace()}/{counts.sum()} correct)")
    save_figure(fig, path)


def most_confident_mistakes(y_true, proba, count: int) -> np.ndarray:
    """Indices of wrong predictions, most confident first."""
    predicted = proba.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    order = np.argsort(-proba[wrong, predicted[wrong]], kind="stable")
    return wrong[order[:count]]


def plot_misclassified(images: np.ndarray, y_true, proba, class_names: list[str], path, count: int = 36) -> None:
    """A grid of the most confident mistakes: true label, prediction and its probability."""
    plt = pyplot()
    chosen = most_confident_mistakes(np.asarray(y_true), proba, count)
    cols = 6
    rows = max(1, -(-len(chosen) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.4, rows * 1.75), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, chosen):
        ax.imshow(_as_image(images[i]), cmap="gray_r")
        guess = proba[i].argmax()
        ax.set_title(f"true {class_names[y_true[i]]}\npred {class_names[guess]} {proba[i, guess]:.0%}",
                     fontsize=8)
    fig.suptitle(f"the {len(chosen)} most confident mistakes" if len(chosen) else "no mistakes")
    save_figure(fig, path)


def weight_mosaic(weights: np.ndarray, units: int, cols: int) -> np.ndarray:
    """The first `units` columns of `weights` (inputs, units), each scaled to [-1, 1] and shaped as a square
    image, tiled `cols` to a row with one NaN pixel between tiles: (rows * (side + 1) - 1, cols * (side + 1) - 1)."""
    side = int(round(np.sqrt(weights.shape[0])))
    if side * side != weights.shape[0]:
        side = 0
    tile = (side, side) if side else (1, weights.shape[0])
    rows = -(-units // cols)
    mosaic = np.full((rows * (tile[0] + 1) - 1, cols * (tile[1] + 1) - 1), np.nan)
    for unit in range(units):
        w = weights[:, unit].astype(np.float64)
        w = w / (np.abs(w).max() or 1.0)
        r, c = divmod(unit, cols)
        mosaic[r * (tile[0] + 1):r * (tile[0] + 1) + tile[0], c * (tile[1] + 1):c * (tile[1] + 1) + tile[1]] = \
            w.reshape(tile)
    return mosaic


def plot_first_layer(weights: np.ndarray, path, max_units: int = 64) -> None:
    """Each first-layer unit's incoming weights as an image (for square inputs such as 28x28), all in one
    mosaic drawn pixel for pixel, so the PNG stays small."""
    plt = pyplot()
    units = min(weights.shape[1], max_units)
    cols = min(8, units)
    mosaic = weight_mosaic(weights, units, cols)
    fig, ax = plt.subplots(figsize=(cols * 0.9, mosaic.shape[0] / mosaic.shape[1] * cols * 0.9 + 0.4),
                           layout="constrained")
    ax.imshow(np.ma.masked_invalid(mosaic), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.axis("off")
    ax.set_title(f"first-layer weights ({units} of {weights.shape[1]} units; red +, blue -)", fontsize=9)
    save_figure(fig, path)


def write_plots(model: Sequential, ds: Dataset, proba: np.ndarray, counts: np.ndarray, rows: list[dict],
                run_dir: Path) -> list[str]:
    """A finished run's PNGs from its test-set probabilities (N, classes) and confusion counts (classes, classes);
    returns their names."""
    written = ["learning_curves.png", "confusion_matrix.png", "misclassified.png"]
    title = f"{ds.name}, test accuracy {counts.trace() / max(counts.sum(), 1):.2%}"
    plot_learning_curves(rows, run_dir / written[0], title=f"{run_dir.name}: {title}")
    plot_confusion_matrix(counts, ds.classes, run_dir / written[1], title=f"{ds.name} test set")
    plot_misclassified(ds.test.x, ds.test.y, proba, ds.classes, run_dir / written[2])
    first = next((layer for layer in model.layers if "W" in layer.params), None)
    if first is not None:
        plot_first_layer(model.backend.to_numpy(first.params["W"]), run_dir / "first_layer_weights.png")
        written.append("first_layer_weights.png")
    return written


def _as_image(row: np.ndarray) -> np.ndarray:
    row = np.asarray(row)
    if row.ndim == 2:
        return row
    side = int(round(np.sqrt(row.size)))
    return row.reshape(side, side) if side * side == row.size else row.reshape(1, -1)
