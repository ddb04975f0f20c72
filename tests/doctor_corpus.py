"""The training doctor's corpus: broken configurations beyond the recipes, each with the problem it must get.

`tests/test_doctor_recipes.py` trains every case (slow) and requires its expected code among the diagnoses;
`benchmarks/doctor_corpus.py` trains them all and prints the confusion table (expected code against the
codes that fired) that docs/RESULTS.md shows. A case is a recipe with overrides (and, for what a config
cannot say, a mutation: shuffled labels, a Softmax layer before a softmax loss), trained a few epochs on a
class-balanced subset through `Sequential.fit`, the doctor on as it is by default.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

DEEP = [784] + [100] * 6 + [10]
DEEP_10 = [784] + [100] * 10 + [10]
NARROW_20 = [784] + [64] * 20 + [10]


@dataclass(frozen=True)
class Broken:
    """A broken configuration: its name, the code it must get, the recipe and overrides it is made of."""

    name: str
    expected: str
    overrides: dict = field(default_factory=dict)
    recipe: str = "mnist-fast"
    mutate: str = ""  # shuffled-labels, blank-images, double-softmax, relu-derivative-x>1: what a config cannot say
    epochs: int = 2
    subset: int = 10000


CORPUS = [
    Broken("lr 10", "lr-too-high", {"optimizer.lr": 10.0}),
    Broken("SGD without momentum at lr 1.5", "lr-too-high",
           {"optimizer.lr": 1.5, "optimizer.momentum": 0.0, "optimizer.nesterov": False, "schedule.name": "constant"}),
    Broken("per-sample SGD at lr 1", "lr-too-high", {"optimizer.lr": 1.0, "optimizer.momentum": 0.0,
                                                     "optimizer.nesterov": False, "train.batch_size": 1}),
    Broken("summed loss over batches of 1000 at lr 0.1", "lr-too-high",
           {"loss.reduction": "sum", "train.batch_size": 1000}),
    Broken("lr 1e-7", "lr-too-low", {"optimizer.lr": 1e-7}),
    Broken("Adam at lr 1e-8", "lr-too-low", {"optimizer.name": "adam", "optimizer.lr": 1e-8}),
    Broken("zero init", "symmetric-units", {"model.init": "zeros"}),
    Broken("constant init", "symmetric-units", {"model.init": {"name": "constant", "value": 0.01}}),
    Broken("all-positive init, 6 hidden layers", "symmetric-units",
           {"model.layers": DEEP, "model.init": {"name": "random_uniform", "low": 0.0, "high": 0.01},
            "model.bias_init": {"name": "random_uniform", "low": 0.0, "high": 1.0}, "optimizer.lr": 0.01}),
    Broken("20 sigmoid layers", "vanishing-gradients",
           {"model.layers": NARROW_20, "model.activation": "sigmoid", "model.init": "glorot_uniform"}),
    Broken("20 tanh layers, small init", "vanishing-gradients",
           {"model.layers": NARROW_20, "model.activation": "tanh",
            "model.init": {"name": "random_normal", "scale": 0.05}}),
    Broken("10 ReLU layers, weights 1.7x He's", "exploding-gradients",
           {"model.layers": DEEP_10, "model.init": {"name": "scaled_normal", "gain": 6.0}, "optimizer.lr": 0.01}),
    Broken("10 ReLU layers, N(0, 0.09) init", "exploding-gradients",
           {"model.layers": DEEP_10, "model.init": {"name": "random_normal", "scale": 0.3}, "optimizer.lr": 0.001}),
    Broken("blank images", "constant-inputs", mutate="blank-images"),
    Broken("shuffled labels", "label-noise-or-shuffled-labels", {"schedule.name": "constant"},
           mutate="shuffled-labels", epochs=4, subset=5000),
    Broken("unscaled inputs, ReLU", "unscaled-inputs", {"data.scale": "none"}),
    Broken("unscaled inputs, sigmoid", "saturated-units",
           {"data.scale": "none", "model.activation": "sigmoid", "model.init": "glorot_uniform"}),
    Broken("tanh, N(0, 1) init", "saturated-units",
           {"model.activation": "tanh", "model.init": {"name": "random_normal", "scale": 1.0}}),
    Broken("sigmoid, N(0, 25) init", "saturated-units",
           {"model.activation": "sigmoid", "model.init": {"name": "random_normal", "scale": 5.0}}),
    Broken("softmax layer before softmax cross-entropy", "double-softmax", mutate="double-softmax"),
    Broken("a hand-written ReLU with derivative x > 1", "wrong-gradients", mutate="relu-derivative-x>1"),
    Broken("ReLU biases at -5", "dead-relus", {"model.bias_init": {"name": "constant", "value": -5.0}}),
    Broken("Adam at lr 1", "dead-relus", {"optimizer.name": "adam", "optimizer.lr": 1.0}),
    Broken("dropout 0.95", "too-much-dropout", {"model.dropout": 0.95}),
    Broken("300 images, no regularisation, 30 epochs", "overfitting",
           {"model.layers": [784, 256, 10], "schedule.name": "constant", "train.batch_size": 16}, epochs=30,
           subset=300),
]


def train_broken(case: Broken, data_dir) -> tuple[list, str, list[dict], list[dict]]:
    """Train `case` (its data from `data_dir`, {dataset: folder}) with the doctor on; (diagnoses, how it ended:
    "finished" or the divergence message, the doctor's telemetry rows, the epochs' metrics)."""
    import barenet as bn
    from barenet.errors import TrainingDiverged
    from barenet.runs import config as cfg
    from barenet.runs.prepared import prepare
    from barenet.training.doctor import Doctor
    from helpers import wrong_relu

    WrongReLU = wrong_relu()  # noqa: N806 (a class)

    base = cfg.resolve(recipe=case.recipe)
    overrides = {"data.subset": case.subset, "train.epochs": case.epochs, "train.seed": 0,
                 "data.data_dir": str(data_dir[base["data"]["dataset"]]), **case.overrides}
    config = cfg.resolve(recipe=case.recipe, overrides=overrides)
    prepared = prepare(config)
    model, (x, y) = prepared.model, prepared.train_data()
    if case.mutate == "shuffled-labels":
        y = np.random.default_rng(0).permutation(y)
    elif case.mutate == "blank-images":
        x = np.zeros_like(x)
    elif case.mutate == "double-softmax":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the compile-time double-softmax warning: the doctor must say it too
            model = bn.Sequential([*model.layers, bn.layers.Softmax()], seed=0).compile(
                loss=model.loss, optimizer=model.optimizer)
    elif case.mutate == "relu-derivative-x>1":
        layers = [WrongReLU() if isinstance(layer, bn.layers.ReLU) else layer for layer in model.layers]
        model = bn.Sequential(layers, seed=0).compile(loss=model.loss, optimizer=model.optimizer)
    ended, doctor = "finished", Doctor()
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")  # the unscaled-input warning: the doctor must say it too
        try:
            model.fit(x, y, epochs=config["train"]["epochs"], batch_size=cfg.batch_size(config),
                      validation_data=prepared.eval_data(), callbacks=[doctor], verbose=0)
        except TrainingDiverged as exc:
            ended = str(exc)
    return list(model.history.diagnoses), ended, doctor.health, model.history.rows()
