"""Run reports: metrics a person reads (per-class precision/recall/F1) and plots a person looks at.

matplotlib is imported only inside the plotting functions, with the Agg backend,
so `import barenet` stays NumPy-only and nothing needs a display. Every PNG is
written atomically (temp file, then rename).
"""

from __future__ import annotations

import csv
import io

import numpy as np

from ..io.files import atomic_write, write_text


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """counts[t, p] = how many samples of true class t were predicted as p; shape (classes, classes)."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return counts


def per_class_scores(counts: np.ndarray) -> list[dict]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    rows = []
    for k in range(counts.shape[0]):
        tp = counts[k, k]
        predicted, actual = counts[:, k].sum(), counts[k, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"precision": float(precision), "recall": float(recall), "f1": float(f1),
                     "support": int(actual)})
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


def plot_learning_curves(rows: list[dict], path, eval_label: str = "validation") -> None:
    """Loss and accuracy per epoch, train and validation (or test), side by side."""
    plt = pyplot()
    epochs = [row["epoch"] for row in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric, title in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy")):
        ax.plot(epochs, [r[metric] for r in rows], "o-", label="train")
        eval_key = next((k for k in (f"val_{metric}", f"test_{metric}") if k in rows[0]), None)
        if eval_key:
            ax.plot(epochs, [r[eval_key] for r in rows], "s-", label=eval_label)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_loss.set_yscale("log")
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
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, chosen):
        ax.imshow(_as_image(images[i]), cmap="gray_r")
        guess = proba[i].argmax()
        ax.set_title(f"true {class_names[y_true[i]]}\npred {class_names[guess]} {proba[i, guess]:.0%}",
                     fontsize=8)
    fig.suptitle("most confident mistakes" if len(chosen) else "no mistakes")
    save_figure(fig, path)


def plot_first_layer(weights: np.ndarray, path, max_units: int = 64) -> None:
    """Each first-layer unit's incoming weights as an image (for square inputs such as 28x28)."""
    plt = pyplot()
    side = int(round(np.sqrt(weights.shape[0])))
    units = min(weights.shape[1], max_units)
    cols = min(8, units)
    rows = -(-units // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.2), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for unit, ax in zip(range(units), axes.flat):
        w = weights[:, unit]
        limit = np.abs(w).max() or 1.0
        ax.imshow(w.reshape(side, side) if side * side == w.size else w[None, :], cmap="RdBu_r",
                  vmin=-limit, vmax=limit)
    fig.suptitle(f"first-layer weights ({units} of {weights.shape[1]} units; red +, blue -)")
    save_figure(fig, path)


def _as_image(row: np.ndarray) -> np.ndarray:
    row = np.asarray(row)
    if row.ndim == 2:
        return row
    side = int(round(np.sqrt(row.size)))
    return row.reshape(side, side) if side * side == row.size else row.reshape(1, -1)
