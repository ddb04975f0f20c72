"""How a finished run went, in one word, for the tables of `barenet grid` and `barenet sweep`.

    ok         it learned: a finite accuracy clearly above chance
    collapsed  it ended near chance (below CHANCE_FACTOR / classes, 15% for 10 classes) or at a NaN
    diverged   its loss turned NaN or infinite, or exploded, and training stopped (TrainingDiverged)

A run that ended at 10.09% on MNIST finished without an error, but it learned nothing: it is
`collapsed`, never `ok`.
"""

from __future__ import annotations

import math

CHANCE_FACTOR = 1.5  # below 1.5x chance accuracy a classifier has learned (next to) nothing
OK, COLLAPSED, DIVERGED = "ok", "collapsed", "diverged"


def classify(accuracy: float | None, classes: int, diverged: bool = False) -> str:
    """"ok", "collapsed" or "diverged" for a run's final accuracy (a fraction) on `classes` classes."""
    if diverged:
        return DIVERGED
    if accuracy is None or not math.isfinite(accuracy) or accuracy < CHANCE_FACTOR / max(classes, 1):
        return COLLAPSED
    return OK


def final_accuracy(summary: dict) -> float:
    """The accuracy a run ended with: its last validation accuracy when it held out a validation set,
    else its test accuracy (what `barenet grid` ranks by)."""
    value = summary.get("final_epoch", {}).get("val_accuracy")
    return float(value if value is not None else summary["test_accuracy"])
