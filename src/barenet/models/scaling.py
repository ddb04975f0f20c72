"""`InputScaler`: uint8 images -> what a model was trained on; saved in its model file's `input` metadata.

Training computes it from the training set (`runs/prepared.py`); predict, evaluate, ensemble, serve and
the ONNX export read it back from the model file (`InputScaler.of(model)`), so every command feeds a
model exactly what it trained on.
"""

from __future__ import annotations

import numpy as np

from ..data.transforms import scale, standardize


class InputScaler:
    """Turns uint8 images into what the model trains on, per data.scale.

    unit         leave uint8: training scales to [0, 1] batch by batch (no float copy of the set)
    standardize  (x/255 - mean) / std with the training set's mean and std, float32
    none         raw 0-255 values as float32 (what some notebooks did; barenet warns)
    """

    def __init__(self, mode: str, train_x: np.ndarray | None = None, mean: float = 0.0, std: float = 1.0):
        self.mode, self.mean, self.std = mode, mean, std
        if mode == "standardize" and train_x is not None:  # statistics of a sample, as float32 in [0, 1]
            sample = train_x[: min(len(train_x), 20000)].astype(np.float32) / np.float32(255.0)
            self.mean, self.std = float(sample.mean()), float(sample.std())

    def to_dict(self) -> dict:
        return {"scale": self.mode, **({"mean": self.mean, "std": self.std} if self.mode == "standardize" else {})}

    @classmethod
    def from_dict(cls, spec: dict) -> InputScaler:
        mode = spec.get("scale", "unit")
        if mode == "standardize":
            return cls(mode, mean=float(spec["mean"]), std=float(spec["std"]))
        return cls(mode)

    @classmethod
    def of(cls, model) -> InputScaler:
        """The scaling a saved model was trained with (its file's `input` metadata; unit when absent)."""
        return cls.from_dict(model.extra.get("input", {}))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x: uint8 (N, 28, 28) or (N, 784) -> (N, 784) float32 (uint8 unchanged for `unit`)."""
        if self.mode == "unit":
            return x
        rows = x.reshape(len(x), -1)
        if self.mode == "none":
            return scale(rows, factor=1.0)
        return standardize(rows, self.mean, self.std)
