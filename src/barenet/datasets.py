"""Temporary minimal dataset loader (IDX files from a local folder); the datasets issue replaces it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import read_idx
from .errors import DataError

CLASSES = {"mnist": [str(i) for i in range(10)],
           "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                             "Bag", "Ankle boot"]}


@dataclass
class Split:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Dataset:
    name: str
    classes: list
    train: Split
    test: Split
    validation: Split | None = None
    sources: dict = field(default_factory=dict)


def load(name, data_dir=None, download=True, validation=0, subset=None, seed=0) -> Dataset:
    if name not in CLASSES:
        raise DataError(f"unknown dataset {name!r}: use one of {', '.join(CLASSES)}")
    root = data_dir or os.environ.get("BARENET_DATA_DIR")
    if not root:
        raise DataError("no data folder: pass --data-dir or set BARENET_DATA_DIR")
    folder = Path(root) / name if (Path(root) / name).is_dir() else Path(root)
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        arrays[split] = Split(read_idx(folder / f"{prefix}-images-idx3-ubyte.gz"),
                              read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64))
    train, val = arrays["train"], None
    if validation:
        val = Split(train.x[-validation:], train.y[-validation:])
        train = Split(train.x[:-validation], train.y[:-validation])
    if subset:
        keep = np.sort(np.random.default_rng(seed).permutation(len(train))[:subset])
        train = Split(train.x[keep], train.y[keep])
    return Dataset(name, CLASSES[name], train, arrays["test"], val, {})
