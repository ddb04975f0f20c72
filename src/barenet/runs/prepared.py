"""A configuration made ready to train: its dataset loaded and checked against the layers, its input
scaling, the compiled model and the augmentation (`prepare`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.augment import Augment
from ..data.loader import Dataset
from ..data.loader import load as load_dataset
from ..errors import ConfigError
from ..models.scaling import InputScaler
from ..models.sequential import Sequential
from . import config as cfg


def load_data(config: dict) -> Dataset:
    """The dataset named by the config, split and subset as it asks."""
    data = config["data"]
    return load_dataset(data["dataset"], data_dir=data["data_dir"] or None, validation=data["validation"],
                        subset=data["subset"] or None, seed=config["train"]["seed"])


def check_fits_data(config: dict, ds: Dataset) -> None:
    """The first layer must take the data's features and the last give one output per class."""
    sizes = config["model"]["layers"]
    features = int(np.prod(ds.train.x.shape[1:]))
    if sizes[0] != features:
        raise ConfigError(f"model.layers starts with {sizes[0]} inputs but {ds.name} images have {features} "
                          f"features ({'x'.join(map(str, ds.train.x.shape[1:]))}): start the layers with {features}")
    if sizes[-1] != len(ds.classes):
        raise ConfigError(f"model.layers ends with {sizes[-1]} outputs but {ds.name} has {len(ds.classes)} "
                          f"classes: end the layers with {len(ds.classes)}")


@dataclass
class Prepared:
    """A configuration made ready to train: the dataset, its scaling, the compiled model, the augmentation.

    Every choice a run makes while it trains (the plateau schedule, early stopping) sees the
    validation split only. The test set is evaluated once, at the end, unless the config asks
    for it every epoch (train.test_each_epoch), and then only to be looked at.
    """

    config: dict
    ds: Dataset
    scaler: InputScaler
    model: Sequential
    augment: Augment | None = None

    @property
    def validated(self) -> bool:
        return self.ds.validation is not None

    def train_data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.scaler(self.ds.train.x), self.ds.train.y

    def eval_data(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The validation split, scaled (None when the config holds none out)."""
        split = self.ds.validation
        return (self.scaler(split.x), split.y) if split is not None else None

    def monitored(self) -> dict:
        """{"test": (x, y)} when the config asks to see test metrics every epoch, else {}."""
        if not self.config["train"]["test_each_epoch"]:
            return {}
        return {"test": (self.scaler(self.ds.test.x), self.ds.test.y)}


def prepare(config: dict, model: Sequential | None = None) -> Prepared:
    """Build the model (checking every option first), load the data, check they fit each other."""
    model = model if model is not None else cfg.build_model(config)
    augment = cfg.build_augment(config)
    ds = load_data(config)
    check_fits_data(config, ds)
    return Prepared(config, ds, InputScaler(config["data"]["scale"], ds.train.x), model, augment)
