"""The one barenet <-> PyTorch mapping: which torch.nn module each layer is, and how weights turn around.

Layer i of a barenet model is module i of an nn.Sequential. A Dense weight W of
shape (in, out) is `Linear.weight` = W.T, of shape (out, in): `to_torch_weight` and
`from_torch_weight` are the only places that transpose. Parity twins, the code
`export --to torch` prints, its state dicts, and `import-torch`'s architecture
tokens all read `TWINS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelFileError
from ..nn import layers as L

Arguments = tuple[tuple, dict]


def _no_arguments(layer: L.Layer) -> Arguments:
    return (), {}


def _linear_arguments(layer) -> Arguments:
    return (layer.in_features, layer.out_features), ({} if layer.use_bias else {"bias": False})


@dataclass(frozen=True)
class Twin:
    """One barenet layer type and its torch.nn counterpart.

    token      its name in an import-torch --arch string ("linear", "relu", "dropout:0.2", ...)
    module     the torch.nn class name
    arguments  the torch module's (args, kwargs), from a barenet layer
    from_token the barenet layer for a token and its optional value (None for Linear: weights decide)
    """

    layer: type
    token: str
    module: str
    arguments: Callable[[Any], Arguments] = _no_arguments
    from_token: Callable[[float | None], L.Layer] | None = None


TWINS = (
    Twin(L.Dense, "linear", "Linear", _linear_arguments),
    Twin(L.ReLU, "relu", "ReLU", from_token=lambda value: L.ReLU()),
    Twin(L.LeakyReLU, "leaky_relu", "LeakyReLU", lambda layer: ((layer.alpha,), {}),
         lambda value: L.LeakyReLU(0.01 if value is None else value)),
    Twin(L.Sigmoid, "sigmoid", "Sigmoid", from_token=lambda value: L.Sigmoid()),
    Twin(L.Tanh, "tanh", "Tanh", from_token=lambda value: L.Tanh()),
    Twin(L.Softmax, "softmax", "Softmax", lambda layer: ((), {"dim": 1}), lambda value: L.Softmax()),
    Twin(L.Flatten, "flatten", "Flatten", from_token=lambda value: L.Flatten()),
    Twin(L.Dropout, "dropout", "Dropout", lambda layer: ((layer.rate,), {}),
         lambda value: L.Dropout(0.5 if value is None else value)),
)
BY_LAYER = {twin.layer: twin for twin in TWINS}
BY_TOKEN = {twin.token: twin for twin in TWINS}


def twin_of(layer: L.Layer) -> Twin:
    """The mapping entry for a barenet layer; ConfigError for a layer torch has no twin for."""
    twin = BY_LAYER.get(type(layer))
    if twin is None:
        raise ConfigError(f"no PyTorch twin for layer {type(layer).__name__}")
    return twin


def module_code(layer: L.Layer) -> str:
    """Python source of the torch.nn module for one barenet layer, e.g. "nn.Linear(784, 128)"."""
    twin = twin_of(layer)
    args, kwargs = twin.arguments(layer)
    return f"nn.{twin.module}({', '.join([*map(repr, args), *(f'{k}={v!r}' for k, v in kwargs.items())])})"


def to_torch_weight(W) -> np.ndarray:
    """barenet's Dense W (in, out) as torch's Linear.weight (out, in)."""
    return np.ascontiguousarray(np.asarray(W).T)


def from_torch_weight(weight) -> np.ndarray:
    """torch's Linear.weight (out, in) as barenet's Dense W (in, out)."""
    return np.ascontiguousarray(np.asarray(weight).T)


def state_dict(model) -> dict[str, np.ndarray]:
    """{"0.weight": (out, in), "0.bias": (out,), ...} as NumPy arrays, nn.Sequential numbering."""
    tensors = {}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, L.Dense):
            tensors[f"{i}.weight"] = to_torch_weight(layer.params["W"])
            if layer.use_bias:
                tensors[f"{i}.bias"] = np.ascontiguousarray(np.asarray(layer.params["b"]))
    return tensors


def dense_from_state(tensors: dict, where: str) -> L.Dense:
    """A built Dense layer from one Linear's {"weight": (out, in), "bias": (out,)} tensors."""
    if "weight" not in tensors or tensors["weight"].ndim != 2:
        raise ModelFileError(f"{where} has no 2-D weight: only Linear layers carry parameters")
    weight, bias = tensors["weight"], tensors.get("bias")
    if weight.dtype not in (np.float32, np.float64):
        raise ModelFileError(f"{where} is {weight.dtype}: save float32 or float64 weights (model.float())")
    out_features, in_features = weight.shape
    if bias is not None and bias.shape != (out_features,):
        raise ModelFileError(f"{where} has bias of shape {bias.shape} for {out_features} outputs")
    layer = L.Dense(in_features, out_features, use_bias=bias is not None)
    layer.params["W"] = from_torch_weight(weight)
    layer.grads["W"] = np.zeros_like(layer.params["W"])
    if bias is not None:
        layer.params["b"] = np.ascontiguousarray(bias.astype(weight.dtype))
        layer.grads["b"] = np.zeros_like(layer.params["b"])
    return layer
