"""`MLP`: a multilayer perceptron built from a list of sizes, e.g. [784, 128, 64, 10]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError
from ..nn import layers
from .sequential import Sequential


class MLP(Sequential):
    """A multilayer perceptron from a list of sizes, e.g. [784, 128, 64, 10].

    activation  hidden activation, one name or one per hidden layer:
                relu, leaky_relu, sigmoid, tanh
    output      "softmax" (classes), "sigmoid" (independent outputs) or "linear"
    init        weight initializer for all layers, or "auto": He for ReLU-family
                hidden layers, Glorot-uniform for sigmoid/tanh and for the output layer
    dropout     drop probability after each hidden activation (one value or one per layer)
    input_dropout  drop probability applied to the inputs
    max_norm    cap on each hidden unit's incoming weight norm (None = no cap)
    device      "cpu" (default), "cuda" or "cuda:N": where it trains and predicts (see `Sequential`)
    """

    def __init__(self, sizes: Sequence[int], activation="relu", output: str = "softmax", init="auto",
                 bias_init="zeros", dropout=0.0, input_dropout: float = 0.0, use_bias: bool = True,
                 max_norm: float | None = None, seed: int = 0, dtype="float32", device="cpu"):
        sizes = list(sizes)
        if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                                 for s in sizes):
            raise ConfigError(f"sizes must be a list of at least two positive integers "
                              f"(inputs, ..., outputs), got {sizes!r}")
        hidden = len(sizes) - 2
        activations = _per_layer(activation, hidden, "activation")
        dropouts = _per_layer(dropout, hidden, "dropout")
        stack: list[layers.Layer] = [layers.Dropout(input_dropout)] if input_dropout else []
        for i in range(hidden):
            if activations[i] not in layers.ACTIVATIONS or activations[i] == "softmax":
                raise ConfigError(f"unknown hidden activation {activations[i]!r}: use relu, leaky_relu, sigmoid "
                                  f"or tanh")
            stack.append(layers.Dense(sizes[i], sizes[i + 1], init=_auto_init(init, activations[i]),
                                      bias_init=bias_init, use_bias=use_bias, max_norm=max_norm))
            stack.append(layers.activation(activations[i]))
            if dropouts[i]:
                stack.append(layers.Dropout(dropouts[i]))
        stack.append(layers.Dense(sizes[-2], sizes[-1], init=_auto_init(init, None),
                                  bias_init=bias_init, use_bias=use_bias))
        super().__init__(stack, output=output, seed=seed, dtype=dtype, device=device)
        self.sizes = sizes
        self._options = {"activation": activation, "dropout": dropout, "input_dropout": input_dropout,
                         "init": init, "max_norm": max_norm, "use_bias": use_bias}

    def __repr__(self) -> str:
        """`MLP([784, 128, 10], activation='relu', output='softmax', 101,770 parameters, ...)` on one line."""
        defaults = {"activation": "relu", "dropout": 0.0, "input_dropout": 0.0, "init": "auto", "max_norm": None,
                    "use_bias": True}
        options = "".join(f", {key}={value!r}" for key, value in self._options.items() if value != defaults[key])
        return f"MLP({self.sizes}{options}, {self._described()})"


def _per_layer(value, count: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ConfigError(f"{name} lists {len(value)} values for {count} hidden layers")
        return list(value)
    return [value] * count


def _auto_init(init, activation: str | None):
    if init != "auto":
        return init
    return "he_normal" if activation in ("relu", "leaky_relu") else "glorot_uniform"
