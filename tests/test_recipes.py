"""Every shipped recipe: resolves, builds, and learns in a short smoke run on a small subset."""

import math
import warnings

import pytest

from barenet.errors import BarenetWarning
from barenet.runs import config as cfg
from barenet.runs.review import review
from barenet.runs.run import run
from helpers import data_folder, skip_reason

RECIPES = cfg.recipe_names()
SUBSET = 2000
# Recipes whose faithful setup learns slowly at first need more steps to show it is learning.
SMOKE_STEPS = {"mlp-100-summed-uniform": 1000}


def test_recipes_are_shipped():
    assert {"mnist", "mnist-fast", "mnist-best", "fashion-mlp"} <= set(RECIPES)
    assert len(RECIPES) >= 15


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_resolves_and_builds(name):
    config = cfg.resolve(recipe=name)
    assert config["name"] == name and config["description"]
    model = cfg.build_model(config)
    assert model.in_features == config["model"]["layers"][0]
    assert cfg.parse_toml(cfg.to_toml(config), "round trip") == config


def smoke_config(name: str, data_dir) -> dict:
    """The recipe on a small subset, with enough epochs for at least ~200 optimizer steps."""
    config = cfg.resolve(recipe=name)
    batch = cfg.batch_size(config) or SUBSET
    steps = SMOKE_STEPS.get(name, 200)
    epochs = min(config["train"]["epochs"], max(1, math.ceil(steps / math.ceil(SUBSET / batch))))
    overrides = {"data.subset": SUBSET, "data.validation": 0, "train.epochs": epochs, "train.early_stopping": 0,
                 "data.data_dir": str(data_dir)}
    for key, value in overrides.items():
        config = cfg.apply_override(config, key, value)
    return config


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_recipe_smoke_run_learns(name, tmp_path):
    dataset = cfg.resolve(recipe=name)["data"]["dataset"]
    folder = data_folder(dataset)
    if folder is None:
        pytest.skip(skip_reason(dataset))
    config = smoke_config(name, folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = run(config, out=tmp_path / name, quiet=True)
    expected = {BarenetWarning} if config["data"]["scale"] == "none" else set()
    assert {w.category for w in caught} == expected, [str(w.message) for w in caught]
    if config["known_failure"]:
        # A faithful copy of a setup that does not learn: it must still run cleanly and say why.
        assert math.isfinite(summary["test_loss"]) and review(config)
    else:
        assert summary["test_accuracy"] > 0.3, summary["test_accuracy"]


def test_fragile_choices_get_a_hint():
    hints = review(cfg.resolve(recipe="mlp-sigmoid-mse-unscaled"))
    assert any("MSE on softmax" in h for h in hints) and any("0-255" in h for h in hints)
    assert review(cfg.resolve(recipe="mnist")) == []


def test_run_folders_are_named_after_what_ran():
    from barenet.runs.naming import run_label

    assert run_label(cfg.resolve(recipe="mnist", overrides={"optimizer.lr": 0.05})) == "mnist"
    assert run_label(cfg.resolve(recipe="mnist", overrides={"data.dataset": "fashion-mnist"})) == "mnist+fashion-mnist"
    assert run_label(cfg.resolve(recipe="mnist-fast", overrides={"model.layers": [784, 256, 10]})) == \
        "mnist-fast+784x256x10"
    custom = cfg.apply_override(cfg.resolve(recipe="mnist"), "name", "mine")
    assert run_label(custom) == "mine+mnist+784x256x128x10"
