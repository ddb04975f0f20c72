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
# Recipes whose faithful setup learns slowly at first need more steps to show it is learning; the wide ones
# (a million parameters or more) show it in fewer, each step costing ten times a small net's.
SMOKE_STEPS = {"mlp-100-summed-uniform": 1000, "mnist-ciresan": 30}  # ciresan: 12M weights
WIDE_STEPS, WIDE = 60, 1_000_000


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
    wide = cfg.build_model(config).count_params() >= WIDE
    steps = SMOKE_STEPS.get(name, WIDE_STEPS if wide else 200)
    epochs = min(config["train"]["epochs"], max(1, math.ceil(steps / math.ceil(SUBSET / batch))))
    overrides = {"data.subset": SUBSET, "data.validation": 0, "train.epochs": epochs, "train.early_stopping": 0,
                 "data.data_dir": str(data_dir)}
    if config["schedule"].get("warmup", 0) >= epochs:  # a warm-up longer than the smoke run: none
        overrides["schedule.warmup"] = 0
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


def test_runs_derived_from_a_recipe_are_labelled_against_it():
    """A sweep's trial (and best.toml) is named "mnist-trial7", a grid's run "mnist-lr=0.3": their folder names get
    "+dataset" and "+layers" only where those differ from the recipe mnist."""
    from barenet.runs.naming import run_label

    trial = cfg.apply_override(cfg.resolve(recipe="mnist"), "name", "mnist-trial7")
    assert run_label(trial) == "mnist-trial7"
    wider = cfg.apply_override(trial, "model.layers", [784, 512, 256, 10])
    assert run_label(wider) == "mnist-trial7+784x512x256x10"
    fast = cfg.apply_override(cfg.resolve(recipe="mnist-fast"), "name", "mnist-fast-trial0")
    assert run_label(fast) == "mnist-fast-trial0"  # mnist-fast, the longest recipe name it starts with
    fashion = cfg.apply_override(cfg.resolve(recipe="mnist", overrides={"data.dataset": "fashion-mnist"}), "name",
                                 "mnist-trial1")
    assert run_label(fashion) == "mnist-trial1+fashion-mnist"


def test_recipes_help_describes_the_actions_and_lists_the_recipes():
    from clihelpers import barenet

    shown = barenet("recipes", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "every shipped recipe with its description" in shown.stdout and "its TOML" in shown.stdout
    assert "barenet train --recipe NAME" in shown.stdout
    for name in RECIPES:
        assert f"\n  {name} " in shown.stdout, name
