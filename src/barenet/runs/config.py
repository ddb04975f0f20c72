"""Training configurations: TOML files, named recipes, overrides, and the objects they build.

A configuration is a nested dict with the sections below (every key has a
default, so a recipe or config file names only what it changes):

    name = "mnist"                     # used in run folder names
    description = "..."
    hints = ["..."]                    # one-line reviewer notes printed before training
    known_failure = false              # true: a faithful copy of a setup that fails, or learns too
                                       # slowly for a short smoke run to show it
    [data]      dataset, validation (training images held out, default 5000), subset,
                scale ("unit" | "standardize" | "none"), data_dir
    [model]     layers, activation, output, init, bias_init, dropout, input_dropout,
                max_norm (0 = none), use_bias, dtype
    [loss]      name, reduction, label_smoothing
    [optimizer] name, lr, and that optimizer's options (momentum, nesterov, weight_decay, ...)
    [schedule]  name ("constant", "step", "exponential", "cosine", "plateau") and its options
    [train]     epochs, batch_size (an integer or "full"), seed, shuffle, target_loss (0 = off),
                early_stopping (patience in epochs, 0 = off), test_each_epoch (false: test once at the end),
                device ("cpu", "cuda" or "cuda:N": where the model trains)
    [augment]   transforms (any of "affine", "elastic", "flip", "erase"; [] = none), rotation (degrees),
                scale [low, high], shear, shift (pixels), alpha and sigma (elastic, pixels),
                erase_probability and erase_area [low, high] (random erasing)

`resolve()` merges defaults <- recipe or file <- overrides and checks every
key, so a typo is an error that names the known keys, never a silent default.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from importlib import resources
from pathlib import Path

from ..data import augment
from ..errors import ConfigError
from ..io.readers import read_regular
from ..io.schema import unknown_key
from ..models.mlp import MLP
from ..nn import losses
from ..optim import optimizers, schedules
from .schema import check_config

DEFAULTS: dict = {
    "name": "custom",
    "description": "",
    "hints": [],
    "known_failure": False,
    "data": {"dataset": "mnist", "validation": 5000, "subset": 0, "scale": "unit", "data_dir": ""},
    "model": {"layers": [784, 128, 64, 10], "activation": "relu", "output": "softmax", "init": "auto",
              "bias_init": "zeros", "dropout": 0.0, "input_dropout": 0.0, "max_norm": 0.0,
              "use_bias": True, "dtype": "float32"},
    "loss": {"name": "softmax_cross_entropy", "reduction": "mean", "label_smoothing": 0.0},
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    "schedule": {"name": "constant"},
    "train": {"epochs": 10, "batch_size": 128, "seed": 0, "shuffle": True, "target_loss": 0.0,
              "early_stopping": 0, "test_each_epoch": False, "device": "cpu"},
    "augment": {"transforms": [], **augment.DEFAULTS},
}
# Sections whose keys depend on a chosen name (checked when the object is built).
OPEN_SECTIONS = ("optimizer", "schedule")
SCALES = ("unit", "standardize", "none")
RECIPES_PACKAGE = "barenet.runs.recipes"
MAX_CONFIG_BYTES = 1 << 20
AUGMENT_STREAM = 1  # the augmentation's generator: seeded (train.seed, 1), apart from the model's


# ----- recipes ---------------------------------------------------------------
def recipe_names() -> list[str]:
    """Names of the recipes shipped inside the package (TOML files in barenet/runs/recipes)."""
    folder = resources.files(RECIPES_PACKAGE)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def recipe_text(name: str) -> str:
    if name not in recipe_names():
        raise ConfigError(f"unknown recipe {name!r}: see 'barenet recipes list' ({', '.join(recipe_names())})")
    return resources.files(RECIPES_PACKAGE).joinpath(f"{name}.toml").read_text(encoding="utf-8")


def load_recipe(name: str) -> dict:
    return parse_toml(recipe_text(name), f"recipe {name!r}")


def parse_toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source} nests tables or lists too deeply: a config is at most a few levels deep") from None


def load_file(path) -> dict:
    """A TOML config file: a regular file of at most 1 MB of UTF-8 text."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"no config file at {path}: give the path of a .toml file")
    raw = read_regular(path, MAX_CONFIG_BYTES, "config file", error=ConfigError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}): save the config as UTF-8") from None
    return parse_toml(text, str(path))


# ----- merging and checking --------------------------------------------------
def merge(base: dict, update: dict, where: str = "") -> dict:
    """A copy of `base` with `update` laid over it, refusing keys `base` does not know."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        section = where.strip(".")
        if key not in base and section not in OPEN_SECTIONS:
            raise ConfigError(unknown_key(key, base, where))
        if isinstance(base.get(key), dict) and section not in OPEN_SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{where}{key}' must be a table ([{key}])")
            if key in OPEN_SECTIONS and value.get("name", base[key]["name"]) != base[key]["name"]:
                # another optimizer/schedule: its options start afresh (the learning rate carries over)
                merged[key] = {k: v for k, v in base[key].items() if k == "lr"} | copy.deepcopy(value)
            else:
                merged[key] = merge(base[key], value, f"{where}{key}.")
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve(recipe: str | None = None, path=None, overrides: dict | None = None) -> dict:
    """Defaults <- recipe (or config file) <- overrides, checked. Plain defaults are the 'mnist' recipe."""
    if recipe and path:
        raise ConfigError("give --recipe or --config, not both")
    base = load_file(path) if path else load_recipe(recipe or "mnist")
    return with_overrides(merge(DEFAULTS, base), overrides or {})


def with_overrides(config: dict, overrides: dict) -> dict:
    """`config` with every {"section.key": value} of `overrides` set, checked (a grid's or a sweep's run too)."""
    for dotted, value in overrides.items():
        config = apply_override(config, dotted, value)
    check(config)
    return config


def apply_override(config: dict, dotted: str, value) -> dict:
    """Set "section.key" (or a top-level key) to value."""
    section, _, key = dotted.partition(".")
    return merge(config, {section: {key: value}} if key else {section: value})


def check(config: dict) -> None:
    """Validate every key against the schema (runs/schema.py), then build the optimizer and schedule."""
    check_config(config)
    build_optimizer(config)  # raises ConfigError for option values the constructors refuse


# ----- building objects ------------------------------------------------------
def build_schedule(config: dict) -> schedules.Schedule:
    """The learning-rate schedule; options left out get defaults scaled to the epoch count."""
    options = dict(config["schedule"])
    name = options.pop("name")
    lr, epochs = config["optimizer"]["lr"], config["train"]["epochs"]
    defaults = {
        "constant": {},
        "step": {"step_size": max(1, epochs // 3), "gamma": 0.1},
        "exponential": {"gamma": 0.9},
        "cosine": {"total": epochs},
        "plateau": {"monitor": "val_loss" if config["data"]["validation"] else "loss", "factor": 0.5,
                    "patience": 2},
    }
    if name not in defaults:
        raise ConfigError(f"unknown schedule {name!r}: use one of {', '.join(defaults)}")
    return schedules.get({"name": name, "lr": lr, **defaults[name], **options})


def build_optimizer(config: dict) -> optimizers.Optimizer:
    options = dict(config["optimizer"])
    for key in ("clipnorm",):
        if options.get(key) == 0:
            options.pop(key)
    options["lr"] = build_schedule(config)
    return optimizers.get(options)


def build_loss(config: dict) -> losses.Loss:
    options = dict(config["loss"])
    if options.get("label_smoothing", 0.0) == 0.0:
        options.pop("label_smoothing", None)
    return losses.get(options)


def build_model(config: dict) -> MLP:
    """A compiled MLP for this configuration."""
    m = config["model"]
    model = MLP(m["layers"], activation=m["activation"], output=m["output"], init=m["init"],
                bias_init=m["bias_init"], dropout=m["dropout"], input_dropout=m["input_dropout"],
                use_bias=m["use_bias"], max_norm=m["max_norm"] or None, seed=config["train"]["seed"],
                dtype=m["dtype"], device=config["train"]["device"])
    return model.compile(loss=build_loss(config), optimizer=build_optimizer(config))


def build_augment(config: dict) -> augment.Augment | None:
    """The run's augmentation (None without transforms), seeded from train.seed; needs unit-scaled pixels."""
    options = dict(config["augment"])
    transforms = options.pop("transforms")
    if not transforms:
        return None
    if config["data"]["scale"] != "unit":
        raise ConfigError(f"augmentation resamples the uint8 images, so it needs data.scale = 'unit', not "
                          f"{config['data']['scale']!r}: drop --set data.scale or the augmentation")
    return augment.Augment(transforms, seed=(config["train"]["seed"], AUGMENT_STREAM), **options)


def batch_size(config: dict) -> int | None:
    """train.batch_size as fit() takes it: an int, or None for full batch."""
    value = config["train"]["batch_size"]
    return None if value == "full" else value


# ----- writing TOML ----------------------------------------------------------
def to_toml(config: dict) -> str:
    """Serialise a configuration (scalars, lists, tables) as TOML that `tomllib` reads back equal."""
    lines = [f"{key} = {_toml_value(value)}" for key, value in config.items() if not isinstance(value, dict)]
    for key, value in config.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):  # a basic string: every control character escaped, so it reads back
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write {type(value).__name__} value {value!r} to TOML")
