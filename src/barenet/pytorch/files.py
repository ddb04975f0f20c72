"""Model files to and from PyTorch `nn.Sequential` state dicts (safetensors), without needing torch.

Both directions read the one mapping table in `mapping.py`.

export_torch: layer i of the barenet model becomes module i of an nn.Sequential; a Dense
    layer's W (in, out) is stored as `i.weight` (out, in) and b as `i.bias`. The barenet
    architecture rides along in the file's metadata, so `import_torch` reads it back exactly.
import_torch: the other way, for an nn.Sequential of Linear and supported activations.
    Without barenet metadata the architecture comes from `arch` ("linear,relu,linear") or
    from one `activation` placed between consecutive Linear layers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import ConfigError, ModelFileError
from ..io.files import check_output_file
from ..io.safetensors import read_safetensors, write_safetensors
from ..io.schema import INT, LIST, NULL, STR, TABLE, check_table, field
from ..models.metadata import check_finite, check_info, check_layers
from ..models.sequential import Sequential
from ..nn import layers as L
from .mapping import BY_TOKEN, dense_from_state, module_code, state_dict

META_KEY = "barenet_torch"
TORCH_DOCUMENT = {"format_version": field(INT), "layers": field(LIST, max_items=10_000),
                  "output": field(STR, NULL, choices=("softmax", "sigmoid", "linear", None)),
                  "dtype": field(STR, choices=("float32", "float64")), "extra": field(TABLE)}


# ----- export ----------------------------------------------------------------------
def export_torch(model: Sequential, out, force: bool = False) -> str:
    """Write `model` as a PyTorch nn.Sequential state dict to `out`; return Python code that loads it.
    Everything that could fail is done before the file is written."""
    out = check_output_file(out, force)
    check_info(model.extra or {}, model.out_features, "the model's extra")
    document = {"format_version": 1, "layers": [layer.get_config() for layer in model.layers],
                "output": model.output, "dtype": model.dtype.name, "extra": model.extra}
    snippet, tensors, text = torch_snippet(model, out), state_dict(model), json.dumps(document)
    write_safetensors(out, tensors, {META_KEY: text})
    return snippet


def torch_snippet(model: Sequential, path) -> str:
    """Code that rebuilds the nn.Sequential and loads the exported weights."""
    modules = "".join(f"    {module_code(layer)},  # {i}\n" for i, layer in enumerate(model.layers))
    cast = ".double()" if model.dtype == "float64" else ""
    output = {"softmax": "probs = model(x).softmax(dim=1)", "sigmoid": "probs = model(x).sigmoid()"}
    last = output.get(model.output or "", "outputs = model(x)")
    return (f"import torch\nfrom torch import nn\nfrom safetensors.torch import load_file\n\n"
            f"model = nn.Sequential(\n{modules}){cast}\n"
            f"model.load_state_dict(load_file({str(path)!r}))\nmodel.eval()\n"
            f"# x: float tensor (N, {model.in_features}); the last layer gives logits\n"
            f"{_input_code(model.extra or {})}{last}\n")


def _input_code(extra: dict) -> str:
    """The line that turns pixels into the model's input, as the model was trained."""
    scale = extra.get("input", {}).get("scale")
    if scale == "standardize":
        info = extra["input"]
        return f"x = (pixels / 255.0 - {info['mean']:.6g}) / {info['std']:.6g}  # pixels: 0-255 values\n"
    if scale == "unit":
        return "x = pixels / 255.0  # pixels: 0-255 values\n"
    return "x = pixels\n" if scale == "none" else ""


# ----- import ----------------------------------------------------------------------
def read_state_dict(path) -> tuple[dict, dict]:
    """(tensors, metadata) of a safetensors file, or a ModelFileError."""
    return read_safetensors(path, f"file at {path}: give a .safetensors state dict saved from PyTorch",
                            "save it with safetensors.torch.save_file(model.float().state_dict(), path)")


def linear_indices(tensors: dict, path) -> dict:
    """{module index: {"weight": ..., "bias": ...}} from keys like "0.weight"."""
    modules: dict = {}
    for key, value in tensors.items():
        match = re.fullmatch(r"(\d+)\.(weight|bias)", key)
        if not match:
            raise ModelFileError(f"{path} has tensor {key!r}: import-torch reads nn.Sequential state dicts "
                                 f"(keys like '0.weight', '0.bias')")
        modules.setdefault(int(match.group(1)), {})[match.group(2)] = value
    if not modules:
        raise ModelFileError(f"{path} holds no tensors: give an nn.Sequential state dict")
    return dict(sorted(modules.items()))


def parse_arch(arch: str) -> list[tuple[str, float | None]]:
    """"linear,relu,dropout:0.5,linear" -> [("linear", None), ("relu", None), ("dropout", 0.5), ...]."""
    tokens = []
    for part in arch.split(","):
        name, _, value = part.strip().lower().partition(":")
        if name not in BY_TOKEN:
            raise ConfigError(f"unknown module {name!r} in --arch: use {', '.join(sorted(BY_TOKEN))}")
        try:
            tokens.append((name, float(value) if value else None))
        except ValueError:
            raise ConfigError(f"bad value {value!r} for {name} in --arch (e.g. dropout:0.5)") from None
    return tokens


def arch_from_activation(modules: dict, activation: str, path) -> list[tuple[str, float | None]]:
    """Linear layers at the file's indices with `activation` in each gap of exactly one module."""
    indices = list(modules)
    if indices[0] != 0 or any(b - a != 2 for a, b in zip(indices, indices[1:])):
        raise ConfigError(f"{path} has Linear layers at positions {indices}, not 0, 2, 4, ...: "
                          f"describe every module with --arch, e.g. 'linear,relu,dropout,linear'")
    tokens: list = [("linear", None)]
    for _ in indices[1:]:
        tokens += [(activation, None), ("linear", None)]
    return tokens


def build_layers(tokens: list, modules: dict, path) -> list:
    """barenet layers for the tokens, Dense weights from the file's tensors."""
    placed = [i for i, (name, _) in enumerate(tokens) if name == "linear"]
    if placed != list(modules):
        raise ConfigError(f"--arch puts Linear layers at positions {placed} but {path} has weights at "
                          f"{list(modules)}: list every module of the nn.Sequential in order")
    result: list[L.Layer] = []
    for i, (name, value) in enumerate(tokens):
        from_token = BY_TOKEN[name].from_token
        if from_token is None:  # Linear: the weights make the layer
            result.append(dense_from_state(modules[i], f"{path} module {i}"))
        else:
            result.append(from_token(value))
    return result


def import_torch(path, out, arch: str | None = None, activation: str | None = None,
                 output: str = "softmax", force: bool = False) -> Sequential:
    """Turn an nn.Sequential state dict into a barenet model file at `out`; return the model."""
    out = check_output_file(out, force)
    tensors, metadata = read_state_dict(path)
    modules = linear_indices(tensors, path)
    for i, module in modules.items():
        for name, value in module.items():
            check_finite(value, f"{i}.{name}", path)
    if META_KEY in metadata and not (arch or activation):
        document = torch_document(metadata[META_KEY], path)
        layer_list = _layers_from_document(document, modules, path)
        output, extra = document.get("output") or output, document.get("extra", {})
    else:
        layer_list, extra = _layers_from_arguments(modules, arch, activation, path), {}
        if layer_list[-1].gives_probabilities:
            output = "linear"  # the network already ends in probabilities
    dtype = next(iter(modules.values()))["weight"].dtype
    model = Sequential(layer_list, output=output, dtype=dtype.name)
    model.save(out, extra={**extra, "imported_from": Path(path).name})
    return model


def torch_document(text: str, path) -> dict:
    """The barenet architecture `export_torch` stored in a state dict's metadata, checked like a model file's."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ModelFileError(f"{path} has corrupt {META_KEY} metadata: re-export it, or give --arch") from None
    check_table(document, TORCH_DOCUMENT, "", ModelFileError, f"{path}: {META_KEY} key")
    if not document.get("layers"):
        raise ModelFileError(f"{path} has no layers in its {META_KEY} metadata: re-export it, or give --arch")
    check_layers(document["layers"], path, "layers")
    return document


def _layers_from_arguments(modules: dict, arch: str | None, activation: str | None, path) -> list:
    if arch and activation:
        raise ConfigError("give --arch or --activation, not both")
    if arch:
        return build_layers(parse_arch(arch), modules, path)
    if activation:
        return build_layers(arch_from_activation(modules, activation.lower(), path), modules, path)
    raise ConfigError(f"{path} does not say its architecture: add --arch 'linear,relu,linear' or --activation relu")


def _layers_from_document(document: dict, modules: dict, path) -> list:
    """barenet layers from export_torch's metadata, Dense weights from the file's tensors."""
    result: list[L.Layer] = []
    for i, config in enumerate(document["layers"]):
        if config.get("type") == "Dense":
            if i not in modules:
                raise ModelFileError(f"{path} lacks the weights of module {i}: the file is incomplete")
            layer = dense_from_state(modules[i], f"{path} module {i}")
            layer.init, layer.bias_init = config.get("init", layer.init), config.get("bias_init", layer.bias_init)
            layer.max_norm = config.get("max_norm")
            result.append(layer)
        else:
            result.append(L.from_config(config))
    return result
