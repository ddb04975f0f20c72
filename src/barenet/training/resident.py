"""What a Trainer keeps on the model's device: the data set, the epoch's order, the running metrics.

On the CPU all of this is the caller's NumPy arrays and Python numbers, as it always was.
On a device (CuPy) the training set is uploaded once per `fit`; each epoch's permutation is
drawn on the host from the model's generator (so every device sees the same order for a
seed) and uploaded once; batches are gathered on the device; the summed loss and the count
of correct predictions are 0-d device arrays, read once at the end of the epoch, so no step
waits for the device.

    data = Resident.upload(backend, x, y)          # x (N, features), y (N,) or (N, classes)
    order = data.order(rng, shuffle=True)
    totals = Totals(backend, mean=True)
    totals.add(loss, rows, outputs, targets, threshold)
    loss_sum, correct = totals.read()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import Backend


@dataclass
class Resident:
    """A training set on the device: rows x (N, features) and targets y."""

    backend: Backend
    x: Any
    y: Any

    @classmethod
    def upload(cls, backend: Backend, x: np.ndarray, y: np.ndarray) -> Resident:
        """x (N, features) and y uploaded once (on the CPU: the same arrays)."""
        return cls(backend, backend.asarray(x), backend.asarray(y))

    def __len__(self) -> int:
        return len(self.x)

    def order(self, rng: np.random.Generator, shuffle: bool) -> Any:
        """The epoch's permutation (N,), drawn on the host from `rng` and uploaded once; None without shuffling."""
        return self.backend.asarray(rng.permutation(len(self.x))) if shuffle else None


def correct_predictions(outputs, targets, threshold: float = 0.5):
    """How many rows of `outputs` (N, classes) pick the right class, as a 0-d array on their device
    (targets: ids (N,) or rows (N, classes)). A single output counts as class 1 above `threshold`."""
    if outputs.shape[1] == 1:
        return ((outputs[:, 0] > threshold) == (targets[:, 0] > 0.5)).sum()
    predicted = outputs.argmax(axis=1)
    truth = targets if targets.ndim == 1 else targets.argmax(axis=1)
    return (predicted == truth).sum()


class Totals:
    """The summed loss and correct predictions of an epoch or an evaluation.

    On the CPU: a Python float and int. On a device: 0-d arrays there (float64, int64), added to
    without waiting; `read()` is the one transfer. The sums are the same either way: the loss is
    added batch by batch in float64 in the same order.
    """

    def __init__(self, backend: Backend, mean: bool):
        self.on_host, self.mean = backend.on_host, mean
        self.loss: Any = 0.0 if backend.on_host else backend.xp.zeros((), np.float64)
        self.correct: Any = 0 if backend.on_host else backend.xp.zeros((), np.int64)

    def add(self, loss, rows: int, outputs, targets, threshold: float) -> None:
        """One batch: its loss (a float, or a device scalar), row count, outputs (rows, classes), targets."""
        self.loss += loss * rows if self.mean else loss
        correct = correct_predictions(outputs, targets, threshold)
        self.correct += int(correct) if self.on_host else correct

    def read(self) -> tuple[float, int]:
        """(summed loss, correct predictions) as Python numbers: on a device, this waits for it."""
        return float(self.loss), int(self.correct)
