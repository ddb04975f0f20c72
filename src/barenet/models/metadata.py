"""The model-file document's schema, checked before a single layer is allocated.

A model file's metadata is user input like any other: it may be hand-edited, truncated
or hostile. `check_document` verifies the JSON document's kinds and ranges (the layers
from the allow-list, their options), and `check_tensors` verifies that every tensor the
architecture needs is in the file with the right shape and dtype and holds only finite
numbers, so a file declaring Dense(20000, 20000) but holding a few KB is refused at once.
`check_info` checks what `barenet evaluate/predict` read from `extra` (class names, input scaling), and
`training_setup` the saved loss and optimizer. `check_model_file` is all of them: the one check every
reader of a model file (predict, evaluate, ensemble, serve, export) runs, through `loading.load`,
before it builds or writes anything.
"""

from __future__ import annotations

import numpy as np

from ..errors import BarenetError, ModelFileError
from ..io.schema import BOOL, INT, LIST, NULL, NUMBER, STR, TABLE, Field, check_table, field, printable
from ..nn import losses
from ..optim import optimizers

MAX_UNITS = 1_000_000
MAX_LAYERS = 10_000
UNITS = field(INT, low=1, high=MAX_UNITS)
DOCUMENT = {"format_version": field(INT), "architecture": field(TABLE), "compile": field(TABLE),
            "extra": field(TABLE), "optimizer_state": field(TABLE)}
ARCHITECTURE = {"layers": field(LIST, max_items=MAX_LAYERS), "output": field(STR, NULL, choices=("softmax", "sigmoid",
                "linear", None)), "seed": field(INT, low=0, high=2**63 - 1), "dtype": field(STR, choices=("float32",
                                                                                                       "float64"))}
LAYERS: dict[str, dict[str, Field]] = {
    "Dense": {"in_features": UNITS, "out_features": UNITS, "init": field(STR, TABLE), "bias_init": field(STR, TABLE),
              "use_bias": field(BOOL), "max_norm": field(NUMBER, NULL, low=0, low_open=True)},
    "LeakyReLU": {"alpha": field(NUMBER)},
    "Dropout": {"rate": field(NUMBER, low=0, high=1, high_open=True)},
    **{name: {} for name in ("Flatten", "ReLU", "Sigmoid", "Tanh", "Softmax")},
}
OPTIMIZER_STATE = {"iterations": field(INT, low=0), "lr": field(NUMBER), "schedule": field(TABLE),
                   "flags": field(LIST, items=field(TABLE), max_items=MAX_LAYERS)}
INFO = {"classes": field(LIST, items=field(STR, max_length=200), max_items=MAX_UNITS),
        "input": field(TABLE), "dataset": field(STR, max_length=200),
        "image_shape": field(LIST, items=field(INT, low=1, high=100_000), max_items=8),
        "validation": field(INT, low=0, high=10_000_000)}
INPUT = {"scale": field(STR, choices=("unit", "standardize", "none")), "mean": field(NUMBER),
         "std": field(NUMBER, low=0, low_open=True)}


def check_model_file(document, tensors: dict, path) -> None:
    """ModelFileError (one line) unless the whole file is usable: its document (layers, kinds, ranges), every
    tensor (present, shaped, finite), what commands read from `extra` and the saved loss and optimizer."""
    check_document(document, path)
    architecture = document["architecture"]
    check_tensors(architecture, tensors, path)
    check_info(document.get("extra", {}), declared_outputs(architecture), path)
    training_setup(document, path)


def declared_outputs(architecture: dict) -> int | None:
    """The output count the architecture declares: its last Dense layer's out_features (None without one)."""
    sizes = [layer["out_features"] for layer in architecture["layers"] if layer["type"] == "Dense"]
    return sizes[-1] if sizes else None


def training_setup(document: dict, path) -> tuple[losses.Loss, optimizers.Optimizer] | None:
    """(loss, optimizer) built from the document's `compile` table (None when it has none), or a ModelFileError."""
    setup = document.get("compile")
    if setup is None:
        return None
    try:
        return losses.get(setup["loss"]), optimizers.get(setup["optimizer"])
    except (KeyError, TypeError, ValueError, OverflowError, BarenetError) as exc:
        reason = f"no {exc}" if isinstance(exc, KeyError) else printable(exc, 200)
        raise ModelFileError(f"{path} has an invalid training setup ({reason}): re-save the model") from None


def check_document(document, path) -> None:
    """ModelFileError (one line, naming `path` and the key) unless the document fits the schema."""
    error = _error(path)
    check_table(document, DOCUMENT, "", error, "model-file key")
    for key in ("format_version", "architecture"):
        if key not in document:
            raise ModelFileError(f"{path} has no {key!r} in its barenet metadata: re-save the model")
    architecture = document["architecture"]
    check_table(architecture, ARCHITECTURE, "architecture.", error, "model-file key")
    if not architecture.get("layers"):
        raise ModelFileError(f"{path} has no layers in its architecture: re-save the model")
    check_layers(architecture["layers"], path, "architecture.layers")
    if "optimizer_state" in document:
        check_table(document["optimizer_state"], OPTIMIZER_STATE, "optimizer_state.", error, "model-file key")


def check_layers(layer_list: list, path, where_list: str) -> None:
    """Each layer config: a type from the allow-list and only its options, of the right kinds and ranges."""
    error = _error(path)
    for i, layer in enumerate(layer_list):
        where = f"{where_list}[{i}]."
        kind = layer.get("type") if isinstance(layer, dict) else None
        if not isinstance(kind, str) or kind not in LAYERS:
            raise ModelFileError(f"{path}: unknown layer type {printable(repr(kind), 60)} at {where[:-1]}: "
                                 f"barenet layers are {', '.join(LAYERS)}")
        check_table({k: v for k, v in layer.items() if k != "type"}, LAYERS[kind], where, error, "model-file key")
        if kind == "Dense" and not {"in_features", "out_features"} <= layer.keys():
            raise ModelFileError(f"{path}: {where[:-1]} is a Dense layer without its sizes: re-save the model")


def expected_tensors(architecture: dict) -> dict[str, tuple[int, ...]]:
    """name -> shape of every parameter tensor the architecture declares (Dense layers hold them all)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, layer in enumerate(architecture["layers"]):
        if layer["type"] == "Dense":
            shapes[f"layers.{i}.W"] = (layer["in_features"], layer["out_features"])
            if layer.get("use_bias", True):
                shapes[f"layers.{i}.b"] = (layer["out_features"],)
    return shapes


def check_tensors(architecture: dict, tensors: dict, path) -> None:
    """Every declared tensor present, of the declared shape and dtype, all finite; before anything is built."""
    dtype = np.dtype(architecture.get("dtype", "float32"))
    for name, shape in expected_tensors(architecture).items():
        if name not in tensors:
            raise ModelFileError(f"{path} lacks tensor {name!r}: the file is incomplete, re-save it")
        value = tensors[name]
        if value.shape != shape or value.dtype != dtype:
            raise ModelFileError(f"{path}: tensor {name!r} is {value.dtype}{list(value.shape)} but the "
                                 f"architecture needs {dtype}{list(shape)}")
        check_finite(value, name, path)


def check_finite(value: np.ndarray, name: str, path) -> None:
    """ModelFileError when a saved array holds NaN or infinity (a model saved after it diverged)."""
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise ModelFileError(f"{path}: tensor {name!r} holds NaN or infinite values (the model diverged before it "
                             f"was saved): retrain it with a lower learning rate")


def check_info(extra: dict, out_features: int | None, path) -> None:
    """What evaluate/predict read from `extra`: class names (one per output), input scaling, dataset."""
    info = {k: v for k, v in extra.items() if k in INFO}
    check_table(info, INFO, "extra.", _error(path), "model-file key")
    if "input" in info:
        check_table(info["input"], INPUT, "extra.input.", _error(path), "model-file key")
        if info["input"].get("scale") == "standardize" and not {"mean", "std"} <= info["input"].keys():
            raise ModelFileError(f"{path}: extra.input standardizes but lacks its mean and std: re-save the model")
    classes = info.get("classes")
    if classes is not None and len(classes) < (out_features or 0):
        raise ModelFileError(f"{path} names {len(classes)} classes for a model with {out_features} outputs: "
                             f"re-save the model")


def display_classes(extra: dict, out_features: int | None) -> list[str]:
    """Class names safe to print (control characters escaped), or '0'..'n-1' when the file names none."""
    classes = extra.get("classes") or [str(i) for i in range(max(out_features or 0, 2))]
    return [printable(name, 60) for name in classes]


def _error(path):
    """A ModelFileError class whose messages start with `path`."""

    class _PathError(ModelFileError):
        def __init__(self, message: str):
            super().__init__(f"{path}: {message}")

    return _PathError
