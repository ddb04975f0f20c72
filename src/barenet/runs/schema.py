"""The configuration schema: the kind and range of every key of every section, declared as data.

`check_config` runs after defaults, recipe or file and overrides are merged, before anything is
built or allocated. The optimizer and schedule sections take the options of the class they name,
read from its constructor's signature (kinds from the annotations or defaults), so a new option
needs no second declaration here.
"""

from __future__ import annotations

import inspect

from ..backend import check_device
from ..data import augment
from ..errors import ConfigError
from ..io.schema import BOOL, INT, LIST, NUMBER, STR, TABLE, Field, check_table, check_value, field, unknown_key
from ..optim import optimizers, schedules
from ..registry import suggest

NAME_PATTERN = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"  # a run folder's name: never a path, never hidden
MAX_UNITS = 100_000            # units in one layer
MAX_PARAMETERS = 100_000_000   # weights and biases in one model (400 MB in float32, before gradients)
MAX_EPOCHS = 100_000
MAX_ROWS = 10_000_000          # batch_size, subset, validation
RATE = field(NUMBER, low=0, high=1, high_open=True)

SCHEMA: dict[str, dict[str, Field]] = {
    "": {"name": field(STR, pattern=NAME_PATTERN, max_length=100), "description": field(STR, max_length=2000),
         "hints": field(LIST, items=field(STR, max_length=500), max_items=50), "known_failure": field(BOOL)},
    "data": {"dataset": field(STR, max_length=100), "validation": field(INT, low=0, high=MAX_ROWS),
             "subset": field(INT, low=0, high=MAX_ROWS), "scale": field(STR, choices=("unit", "standardize", "none")),
             "data_dir": field(STR, max_length=4096)},
    "model": {"layers": field(LIST, items=field(INT, low=1, high=MAX_UNITS), max_items=1000),
              "activation": field(STR, LIST, items=field(STR, max_length=100), max_items=1000),
              "output": field(STR, choices=("softmax", "sigmoid", "linear")), "init": field(STR, TABLE),
              "bias_init": field(STR, TABLE), "dropout": Field((NUMBER, LIST), 0, 1, items=RATE, high_open=True),
              "input_dropout": RATE, "max_norm": field(NUMBER, low=0), "use_bias": field(BOOL),
              "dtype": field(STR, choices=("float32", "float64"))},
    "loss": {"name": field(STR, max_length=100), "reduction": field(STR, choices=("mean", "sum")),
             "label_smoothing": RATE},
    "train": {"epochs": field(INT, low=1, high=MAX_EPOCHS), "batch_size": field(INT, STR, low=1, high=MAX_ROWS),
              "seed": field(INT, low=0, high=2**63 - 1), "shuffle": field(BOOL), "target_loss": field(NUMBER, low=0),
              "early_stopping": field(INT, low=0, high=MAX_EPOCHS), "test_each_epoch": field(BOOL),
              "device": field(STR, max_length=20)},
    "augment": {"transforms": field(LIST, items=field(STR, choices=augment.KINDS), max_items=len(augment.KINDS)),
                "rotation": field(NUMBER, low=0, high=180), "shear": field(NUMBER, low=0, high=1),
                "scale": field(LIST, items=field(NUMBER, low=0.05, high=20), max_items=2),
                "shift": field(NUMBER, low=0, high=100), "alpha": field(NUMBER, low=0, high=1000),
                "sigma": field(NUMBER, low=0.1, high=100), "erase_probability": field(NUMBER, low=0, high=1),
                "erase_area": field(LIST, items=field(NUMBER, low=0, high=1), max_items=2)},
}
OPEN: dict[str, dict] = {"optimizer": optimizers.REGISTRY, "schedule": schedules.REGISTRY}
_KINDS = {"int": (INT,), "float": (NUMBER,), "bool": (BOOL,), "str": (STR,)}


def check_config(config: dict) -> None:
    """ConfigError (one line, naming the key) for any key or value outside the schema."""
    for section, schema in SCHEMA.items():  # merge() already refused unknown sections
        table = config[section] if section else {k: v for k, v in config.items() if k in schema}
        check_table(table, schema, f"{section}." if section else "")
    _check_rules(config)
    for section, registry in OPEN.items():
        check_open_section(config[section], section, registry)


def _check_rules(config: dict) -> None:
    """What a per-key Field cannot say: 'full' batches, at least two layers, a parameter budget, a known device."""
    check_device(config["train"]["device"])  # the name only: CuPy and a GPU are needed when the model is built
    batch = config["train"]["batch_size"]
    if isinstance(batch, str) and batch != "full":
        raise ConfigError(f"config key 'train.batch_size' must be a positive integer or 'full', got {batch!r}")
    sizes = config["model"]["layers"]
    if len(sizes) < 2:
        raise ConfigError(f"config key 'model.layers' must list at least two sizes, e.g. [784, 128, 10]; got {sizes}")
    parameters = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    if parameters > MAX_PARAMETERS:
        raise ConfigError(f"model.layers {sizes} would have {parameters:,} parameters; barenet trains at most "
                          f"{MAX_PARAMETERS:,}: use smaller layers")


def check_open_section(table, section: str, registry: dict) -> None:
    """[optimizer] / [schedule]: a known name, then only the options its class takes, of the kinds it takes."""
    if not isinstance(table, dict):
        raise ConfigError(f"config key '{section}' must be a table ([{section}])")
    check_value(table.get("name"), field(STR, max_length=100), f"config key '{section}.name'")
    name = str(table["name"]).lower()
    if name not in registry:
        raise ConfigError(f"unknown {section} {name!r}{suggest(name, registry)}: use one of "
                          f"{', '.join(registry)}")
    schema = option_schema(registry[name])
    for key, value in table.items():
        if key == "name":
            continue
        if key not in schema:
            raise ConfigError(unknown_key(key, schema, f"{section}.") + f" (for {section} {name!r})")
        check_value(value, schema[key], f"config key '{section}.{key}'")


def option_schema(constructor) -> dict[str, Field]:
    """key -> Field for a constructor's keyword options: kinds from annotations, else from defaults."""
    schema = {}
    for key, parameter in inspect.signature(constructor).parameters.items():
        if key == "self":
            continue
        annotation = parameter.annotation if isinstance(parameter.annotation, str) else ""
        kinds = tuple(k for part in annotation.split("|") for k in _KINDS.get(part.strip(), ()))
        if not kinds and parameter.default is not inspect.Parameter.empty and parameter.default is not None:
            kinds = _KINDS.get(type(parameter.default).__name__, (NUMBER,))
        schema[key] = Field(kinds or (NUMBER,))
    return schema
