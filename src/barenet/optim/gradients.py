"""A flat gradient whose per-sample weight gradients are left unformed, for the optimizer to use as factors.

At batch 1 each Dense layer's weight gradient is the outer product x.T @ grad_pre of two
vectors. Writing it into the flat gradient buffer and reading it back in the update costs
two passes over the weights; SGD can instead make each element x[i] * grad[j] where it
updates that weight (`kernels.updates.sgd_outer`). The model's backward then leaves those
segments of the flat buffer unwritten and hands the optimizer this object:

    flat    the flat gradient (n,): every segment outside `parts` holds its gradient (biases, ...)
    parts   (start, (rows, cols), x (1, rows), grad (1, cols)) for each unformed weight gradient,
            in the order of the flat buffer: the gradient of flat[start:start + rows*cols] is x.T @ grad

An optimizer that cannot use the factors (or must see the whole gradient first, e.g. to clip
its norm) calls `formed` and gets the ordinary flat gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class OuterProducts:
    flat: Any
    parts: list[tuple[int, tuple[int, int], Any, Any]]

    def formed(self, kernels: Any) -> Any:
        """The flat gradient with every part written in (by `kernels.outer`): the ordinary (n,) array."""
        for start, (rows, cols), x, grad in self.parts:
            kernels.outer(x, grad, self.flat[start:start + rows * cols].reshape(rows, cols))
        return self.flat

    def gaps(self) -> list[tuple[int, int]]:
        """(start, stop) of the formed stretches of the flat buffer between the parts, in order."""
        stretches, position = [], 0
        for start, (rows, cols), _, _ in self.parts:
            if start > position:
                stretches.append((position, start))
            position = start + rows * cols
        if position < len(self.flat):
            stretches.append((position, len(self.flat)))
        return stretches
