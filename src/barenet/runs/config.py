"""Training configurations: TOML files, named recipes, overrides, and the objects they build.

A configuration is a nested dict with the sections below (every key has a
default, so a recipe or config file names only what it changes):

    name = "mnist"                     # used in run folder names
    description = "..."
    hints = ["..."]                    # one-line reviewer notes printed before training
    known_failure = false              # true: a faithful copy of a setup that fails, or learns too
                                       # slowly for a short smoke run to show it
    [data]      dataset, validation, subset, scale ("unit" | "standardize" | "none"), data_dir
    [model]     layers, activation, output, init, bias_init, dropout, input_dropout,
                max_norm (0 = none), use_bias, dtype
    [loss]      name, reduction, label_smoothing
    [optimizer] name, lr, and that optimizer's options (momentum, nesterov, weight_decay, ...)
    [schedule]  name ("constant", "step", "exponential", "cosine", "plateau") and its options
    [train]     epochs, batch_size (an integer or "full"), seed, shuffle, target_loss (0 = off),
                early_stopping (patience in epochs, 0 = off)

`resolve()` merges defaults <- recipe or file <- overrides and checks every
key, so a typo is an error that names the known keys, never a silent default.
"""

from __future__ import annotations

import copy
import math
import tomllib
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from ..models.mlp import MLP
from ..nn import losses
from ..optim import optimizers, schedules

DEFAULTS: dict = {
    "name": "custom",
    "description": "",
    "hints": [],
    "known_failure": False,
    "data": {"dataset": "mnist", "validation": 0, "subset": 0, "scale": "unit", "data_dir": ""},
    "model": {"layers": [784, 128, 64, 10], "activation": "relu", "output": "softmax", "init": "auto",
              "bias_init": "zeros", "dropout": 0.0, "input_dropout": 0.0, "max_norm": 0.0,
              "use_bias": True, "dtype": "float32"},
    "loss": {"name": "softmax_cross_entropy", "reduction": "mean", "label_smoothing": 0.0},
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    "schedule": {"name": "constant"},
    "train": {"epochs": 10, "batch_size": 128, "seed": 0, "shuffle": True, "target_loss": 0.0,
              "early_stopping": 0},
}
# Sections whose keys depend on a chosen name (checked when the object is built).
OPEN_SECTIONS = ("optimizer", "schedule")
SCALES = ("unit", "standardize", "none")
RECIPES_PACKAGE = "barenet.runs.recipes"


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


def load_file(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no config file at {path}: give the path of a .toml file")
    return parse_toml(path.read_text(encoding="utf-8"), str(path))


# ----- merging and checking --------------------------------------------------
def merge(base: dict, update: dict, where: str = "") -> dict:
    """A copy of `base` with `update` laid over it, refusing keys `base` does not know."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        section = where.strip(".")
        if key not in base and section not in OPEN_SECTIONS:
            place = f" in [{section}]" if section else ""
            raise ConfigError(f"unknown config key {where}{key!r}: known keys{place} are {', '.join(sorted(base))}")
        if isinstance(base.get(key), dict) and section not in OPEN_SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"config key {where}{key} must be a table ([{key}])")
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
    config = merge(DEFAULTS, base)
    for dotted, value in (overrides or {}).items():
        config = apply_override(config, dotted, value)
    check(config)
    return config


def apply_override(config: dict, dotted: str, value) -> dict:
    """Set "section.key" (or a top-level key) to value."""
    section, _, key = dotted.partition(".")
    return merge(config, {section: {key: value}} if key else {section: value})


def check(config: dict) -> None:
    """Validate values that no later constructor checks with a clear message."""
    data, model, train = config["data"], config["model"], config["train"]
    if data["scale"] not in SCALES:
        raise ConfigError(f"unknown data.scale {data['scale']!r}: use one of {', '.join(SCALES)}")
    for key in ("validation", "subset"):
        if not _is_int(data[key]) or data[key] < 0:
            raise ConfigError(f"data.{key} must be a non-negative integer, got {data[key]!r}")
    layers = model["layers"]
    if not isinstance(layers, list) or len(layers) < 2 or not all(_is_int(s) and s > 0 for s in layers):
        raise ConfigError(f"model.layers must list at least two positive sizes, e.g. [784, 128, 10]; got {layers!r}")
    if not _is_int(train["epochs"]) or train["epochs"] < 1:
        raise ConfigError(f"train.epochs must be a positive integer, got {train['epochs']!r}")
    batch = train["batch_size"]
    if batch != "full" and (not _is_int(batch) or batch < 1):
        raise ConfigError(f"train.batch_size must be a positive integer or 'full', got {batch!r}")
    if not _is_int(train["seed"]):
        raise ConfigError(f"train.seed must be an integer, got {train['seed']!r}")
    for section in OPEN_SECTIONS:
        if not isinstance(config[section], dict) or "name" not in config[section]:
            raise ConfigError(f"[{section}] needs a name")
    build_optimizer(config)  # raises ConfigError for unknown names or options


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
                dtype=m["dtype"])
    return model.compile(loss=build_loss(config), optimizer=build_optimizer(config))


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
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write {type(value).__name__} value {value!r} to TOML")
