"""Model files to and from PyTorch `nn.Sequential` state dicts (safetensors), without needing torch.

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

import numpy as np

from . import layers as L
from .errors import ConfigError, ModelFileError
from .fileio import atomic_write
from .serialization import read_safetensors

META_KEY = "barenet_torch"
TOKENS = {"linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "flatten", "dropout"}
TORCH_NAMES = {"Dense": "Linear", "ReLU": "ReLU", "LeakyReLU": "LeakyReLU", "Sigmoid": "Sigmoid",
               "Tanh": "Tanh", "Softmax": "Softmax", "Flatten": "Flatten", "Dropout": "Dropout"}


def check_output_path(path, force: bool) -> Path:
    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists: choose another output path or add --force to overwrite it")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder: give a file path such as model.safetensors")
    return path


# ----- export ----------------------------------------------------------------------
def torch_state_dict(model) -> dict:
    """{"0.weight": (out, in), "0.bias": (out,), ...} as NumPy arrays, nn.Sequential numbering."""
    tensors = {}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, L.Dense):
            tensors[f"{i}.weight"] = np.ascontiguousarray(np.asarray(layer.params["W"]).T)
            if layer.use_bias:
                tensors[f"{i}.bias"] = np.ascontiguousarray(np.asarray(layer.params["b"]))
    return tensors


def export_torch(model, out, force: bool = False) -> str:
    """Write `model` as a PyTorch nn.Sequential state dict to `out`; return Python code that loads it."""
    from safetensors.numpy import save_file

    out = check_output_path(out, force)
    document = {"format_version": 1, "layers": [layer.get_config() for layer in model.layers],
                "output": model.output, "dtype": model.dtype.name, "extra": model.extra}
    metadata = {META_KEY: json.dumps(document)}
    atomic_write(out, lambda temp: save_file(torch_state_dict(model), temp, metadata=metadata))
    return torch_snippet(model, out)


def module_code(layer: L.Layer) -> str:
    """Python source of the torch.nn module for one barenet layer."""
    if isinstance(layer, L.Dense):
        bias = "" if layer.use_bias else ", bias=False"
        return f"nn.Linear({layer.in_features}, {layer.out_features}{bias})"
    if isinstance(layer, L.LeakyReLU):
        return f"nn.LeakyReLU({layer.alpha})"
    if isinstance(layer, L.Softmax):
        return "nn.Softmax(dim=1)"
    if isinstance(layer, L.Dropout):
        return f"nn.Dropout({layer.rate})"
    return f"nn.{TORCH_NAMES[type(layer).__name__]}()"


def torch_snippet(model, path) -> str:
    """Code that rebuilds the nn.Sequential and loads the exported weights."""
    modules = "".join(f"    {module_code(layer)},  # {i}\n" for i, layer in enumerate(model.layers))
    cast = ".double()" if model.dtype == np.float64 else ""
    scale = (model.extra or {}).get("input", {}).get("scale")
    if scale == "standardize":
        info = model.extra["input"]
        prep = f"x = (pixels / 255.0 - {info['mean']:.6g}) / {info['std']:.6g}  # pixels: 0-255 values\n"
    elif scale in ("unit", "none"):
        prep = "x = pixels / 255.0  # pixels: 0-255 values\n" if scale == "unit" else "x = pixels\n"
    else:
        prep = ""
    output = {"softmax": "probs = model(x).softmax(dim=1)", "sigmoid": "probs = model(x).sigmoid()"}
    last = output.get(model.output, "outputs = model(x)")
    return (f"import torch\nfrom torch import nn\nfrom safetensors.torch import load_file\n\n"
            f"model = nn.Sequential(\n{modules}){cast}\n"
            f"model.load_state_dict(load_file({str(path)!r}))\nmodel.eval()\n"
            f"# x: float tensor (N, {model.in_features}); the last layer gives logits\n"
            f"{prep}{last}\n")


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
        if name not in TOKENS:
            raise ConfigError(f"unknown module {name!r} in --arch: use {', '.join(sorted(TOKENS))}")
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
    """barenet layers for the tokens, Dense weights from the file (weight (out, in) -> W (in, out))."""
    placed = [i for i, (name, _) in enumerate(tokens) if name == "linear"]
    if placed != list(modules):
        raise ConfigError(f"--arch puts Linear layers at positions {placed} but {path} has weights at "
                          f"{list(modules)}: list every module of the nn.Sequential in order")
    result = []
    for i, (name, value) in enumerate(tokens):
        if name == "linear":
            result.append(dense_from(modules[i], f"{path} module {i}"))
        elif name == "dropout":
            result.append(L.Dropout(0.5 if value is None else value))
        elif name == "leaky_relu":
            result.append(L.LeakyReLU(0.01 if value is None else value))
        elif name == "flatten":
            result.append(L.Flatten())
        else:
            result.append(L.activation(name))
    return result


def dense_from(tensors: dict, where: str) -> L.Dense:
    if "weight" not in tensors or tensors["weight"].ndim != 2:
        raise ModelFileError(f"{where} has no 2-D weight: only Linear layers carry parameters")
    weight, bias = tensors["weight"], tensors.get("bias")
    if weight.dtype not in (np.float32, np.float64):
        raise ModelFileError(f"{where} is {weight.dtype}: save float32 or float64 weights (model.float())")
    out_f, in_f = weight.shape
    if bias is not None and bias.shape != (out_f,):
        raise ModelFileError(f"{where} has bias of shape {bias.shape} for {out_f} outputs")
    layer = L.Dense(in_f, out_f, use_bias=bias is not None)
    layer.params["W"] = np.ascontiguousarray(weight.T)
    layer.grads["W"] = np.zeros_like(layer.params["W"])
    if bias is not None:
        layer.params["b"] = np.ascontiguousarray(bias.astype(weight.dtype))
        layer.grads["b"] = np.zeros_like(layer.params["b"])
    return layer


def import_torch(path, out, arch: str | None = None, activation: str | None = None,
                 output: str = "softmax", force: bool = False):
    """Turn an nn.Sequential state dict into a barenet model file at `out`; return the model."""
    from .model import Sequential

    out = check_output_path(out, force)
    tensors, metadata = read_state_dict(path)
    modules = linear_indices(tensors, path)
    if META_KEY in metadata and not (arch or activation):
        document = json.loads(metadata[META_KEY])
        layer_list = _layers_from_document(document, modules, path)
        output, extra = document.get("output") or output, document.get("extra", {})
    else:
        if arch and activation:
            raise ConfigError("give --arch or --activation, not both")
        if not (arch or activation):
            raise ConfigError(f"{path} does not say its architecture: add --arch 'linear,relu,linear' "
                              f"or --activation relu")
        tokens = parse_arch(arch) if arch else arch_from_activation(modules, activation.lower(), path)
        layer_list, extra = build_layers(tokens, modules, path), {}
        if isinstance(layer_list[-1], (L.Softmax, L.Sigmoid)):
            output = "linear"  # the network already ends in probabilities
    dtype = next(iter(modules.values()))["weight"].dtype
    model = Sequential(layer_list, output=output, dtype=dtype.name)
    model.save(out, extra={**extra, "imported_from": Path(path).name})
    return model


def _layers_from_document(document: dict, modules: dict, path) -> list:
    """barenet layers from export_torch's metadata, Dense weights from the file's tensors."""
    result = []
    for i, config in enumerate(document["layers"]):
        if config.get("type") == "Dense":
            if i not in modules:
                raise ModelFileError(f"{path} lacks the weights of module {i}: the file is incomplete")
            layer = dense_from(modules[i], f"{path} module {i}")
            layer.init, layer.bias_init, layer.max_norm = config["init"], config["bias_init"], config["max_norm"]
            result.append(layer)
        else:
            result.append(L.from_config(config))
    return result
