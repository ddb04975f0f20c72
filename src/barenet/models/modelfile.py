"""Model files: weights in safetensors, architecture and training setup as JSON metadata.

A model file is an ordinary `.safetensors` file (readable by any safetensors
library) whose tensors are named `layers.<index>.<param>` and whose metadata
holds one JSON document under the key "barenet":

    {"format_version": 1, "architecture": {...}, "compile": {...}, "extra": {...}}

A checkpoint is a model file with the optimizer's state too: its arrays as
`optimizer.<slot>.<name>` tensors, its counters under "optimizer_state".

This module writes and reads the document; `loading.load` rebuilds a model from it.
Loading never unpickles and never executes anything from the file: layer types
come from a fixed allow-list, and every tensor's shape and dtype is checked
against the architecture. Writes are atomic (temp file, then rename).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..backend import to_numpy
from ..errors import ModelFileError
from ..io.safetensors import read_safetensors, write_safetensors
from ..io.schema import kind_of, printable

FORMAT_VERSION = 1
OPTIMIZER_PREFIX = "optimizer."


def write(model, path, include_optimizer: bool = False, extra: dict | None = None) -> None:
    """Save `model` to `path` (.safetensors). `extra` is any JSON-able dict kept in the metadata."""
    tensors = {f"layers.{i}.{key}": to_numpy(value)
               for i, layer in enumerate(model.layers) for key, value in layer.params.items()}
    document = {"format_version": FORMAT_VERSION, "architecture": model.get_config(), "extra": extra or {}}
    if model.loss is not None:
        document["compile"] = {"loss": model.loss.get_config(), "optimizer": model.optimizer.get_config()}
        if include_optimizer and model.optimizer.state:
            state = model.optimizer.state_dict()
            document["optimizer_state"] = state["scalars"]
            tensors.update({OPTIMIZER_PREFIX + key: to_numpy(value) for key, value in state["arrays"].items()})
    write_safetensors(path, tensors, {"barenet": json.dumps(document)})


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
    except RecursionError:
        raise ModelFileError(f"{path} has barenet metadata nested too deeply to be a model: re-save it") from None
    if not isinstance(document, dict):
        raise ModelFileError(f"{path} has barenet metadata that is a JSON {kind_of(document)}, not an object: "
                             f"re-save the model")
    if document.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path} has model format version {printable(repr(document.get('format_version')), 40)}; "
                             f"this barenet reads version {FORMAT_VERSION}: upgrade barenet")
    return document, tensors


def optimizer_state(document: dict, tensors: dict) -> dict | None:
    """The optimizer's state_dict saved in a checkpoint, or None for a plain model file."""
    if "optimizer_state" not in document:
        return None
    arrays = {key[len(OPTIMIZER_PREFIX):]: value for key, value in tensors.items() if key.startswith(OPTIMIZER_PREFIX)}
    return {"arrays": arrays, "scalars": document["optimizer_state"]}
