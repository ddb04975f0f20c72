"""Model files: weights in safetensors, architecture and training setup as JSON metadata.

A model file is an ordinary `.safetensors` file (readable by any safetensors
library) whose tensors are named `layers.<index>.<param>` and whose metadata
holds one JSON document under the key "barenet":

    {"format_version": 1, "architecture": {...}, "compile": {...}, "extra": {...}}

Loading never unpickles and never executes anything from the file: layer types
come from a fixed allow-list, and every tensor's shape and dtype is checked
against the architecture. Writes are atomic (temp file, then rename).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import layers as layers_mod
from . import losses, optimizers
from .backend import to_numpy, xp
from .errors import BarenetError, ModelFileError
from .fileio import atomic_write

FORMAT_VERSION = 1
OPTIMIZER_PREFIX = "optimizer."


def save(model, path, include_optimizer: bool = False, extra: dict | None = None) -> None:
    """Save `model` to `path` (.safetensors). `extra` is any JSON-able dict kept in the metadata."""
    from safetensors.numpy import save_file

    tensors = {f"layers.{i}.{key}": np.ascontiguousarray(to_numpy(value))
               for i, layer in enumerate(model.layers) for key, value in layer.params.items()}
    document = {"format_version": FORMAT_VERSION, "architecture": model.get_config(), "extra": extra or {}}
    if model.loss is not None:
        document["compile"] = {"loss": model.loss.get_config(), "optimizer": model.optimizer.get_config()}
        if include_optimizer and model.optimizer.state:
            state = model.optimizer.state_dict()
            document["optimizer_state"] = state["scalars"]
            tensors.update({OPTIMIZER_PREFIX + key: np.ascontiguousarray(to_numpy(value))
                            for key, value in state["arrays"].items()})
    metadata = {"barenet": json.dumps(document)}
    atomic_write(path, lambda temp: save_file(tensors, temp, metadata=metadata))


def read_safetensors(path, missing: str, fix: str) -> tuple[dict, dict]:
    """(tensors, metadata) of any safetensors file. ModelFileError: "no ... at PATH: <missing>" when the
    file is absent, "PATH is not a readable safetensors file (...): <fix>" when it is corrupt."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no {missing}")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors has its own error types (also for bfloat16 tensors)
        raise ModelFileError(f"{path} is not a readable safetensors file ({exc}): {fix}") from None
    return tensors, metadata


def read(path) -> tuple[dict, dict]:
    """Return (metadata document, tensors) from a barenet model file, or raise ModelFileError."""
    path = Path(path)
    tensors, metadata = read_safetensors(
        path, f"model file at {path}: check the path (models are .safetensors files)", "re-save or re-download it")
    if "barenet" not in metadata:
        raise ModelFileError(f"{path} is a safetensors file without barenet metadata: save models with model.save()")
    try:
        document = json.loads(metadata["barenet"])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path} has corrupt barenet metadata ({exc.msg})") from None
    if document.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path} has model format version {document.get('format_version')!r}; "
                             f"this barenet reads version {FORMAT_VERSION}: upgrade barenet")
    return document, tensors


def load(path, compile: bool = True):
    """Rebuild the model saved at `path`: same layers, same weights, same predictions."""
    from .model import Sequential

    document, tensors = read(path)
    try:
        arch = document["architecture"]
        layer_list = [layers_mod.from_config(config) for config in arch["layers"]]
        model = Sequential(layer_list, output=arch.get("output"), seed=arch.get("seed", 0),
                           dtype=arch.get("dtype", "float32"))
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{path} has an invalid architecture ({exc}): re-save the model") from None
    except BarenetError as exc:
        raise ModelFileError(f"{path} has an invalid architecture: {exc}") from None
    for i, layer in enumerate(model.layers):
        for key, param in layer.params.items():
            name = f"layers.{i}.{key}"
            if name not in tensors:
                raise ModelFileError(f"{path} lacks tensor {name!r}: the file is incomplete, re-save it")
            value = tensors[name]
            if value.shape != param.shape or value.dtype != param.dtype:
                raise ModelFileError(f"{path}: tensor {name!r} is {value.dtype}{list(value.shape)} but the "
                                     f"architecture needs {param.dtype}{list(param.shape)}")
            param[...] = xp.asarray(value)
    if compile and "compile" in document:
        setup = document["compile"]
        try:
            model.compile(loss=losses.get(setup["loss"]), optimizer=optimizers.get(setup["optimizer"]))
        except (KeyError, TypeError, BarenetError) as exc:
            raise ModelFileError(f"{path} has an invalid training setup ({exc})") from None
        if "optimizer_state" in document:
            arrays = {key[len(OPTIMIZER_PREFIX):]: value for key, value in tensors.items()
                      if key.startswith(OPTIMIZER_PREFIX)}
            model.optimizer.load_state_dict({"arrays": arrays, "scalars": document["optimizer_state"]},
                                            model._slots[0])
    model.extra = document.get("extra", {})
    return model
