"""Dense layers fused with the activation after them, for the training and inference chains.

`[Dense, ReLU, Dense]` is what a model is made of and what it saves; what it runs
is `[DenseActivation(Dense, relu), DenseActivation(Dense, identity)]`. A fused
block computes act(x @ W + b) with one kernel pass after the matrix product, and
its backward the activation's derivative and the bias gradient in one pass
before the two matrix products (`kernels.activations`). The Dense layer keeps its
parameters and gradients: the block shares them (the same dicts, the same views
into the model's flat buffers).

    fuse([Dense(784, 128), ReLU(), Dropout(0.2), Dense(128, 10)])
        -> [DenseActivation(Dense(784 -> 128), relu), Dropout(rate=0.2), DenseActivation(Dense(128 -> 10))]
"""

from __future__ import annotations

from ..backend import Backend
from ..kernels.activations import IDENTITY, LEAKY_RELU, RELU, SIGMOID, TANH
from .layers import Dense, Layer, LeakyReLU, ReLU, Sigmoid, Tanh

NAMES = {IDENTITY: "identity", RELU: "relu", LEAKY_RELU: "leaky_relu", SIGMOID: "sigmoid", TANH: "tanh"}


class DenseActivation(Layer):
    """act(x @ W + b) as one layer: x (batch, in) -> (batch, out), sharing `dense`'s parameters."""

    def __init__(self, dense: Dense, act: int = IDENTITY, alpha: float = 0.0):
        self.dense = dense  # first: Layer.__init__ sets propagate_grad and backend, which are the Dense's own
        backend = dense.backend
        super().__init__()
        self.backend = backend  # Layer.__init__ gave the CPU's: the block computes where its Dense lives
        self.act, self.alpha = act, alpha
        self.params, self.grads = dense.params, dense.grads
        self.in_features = dense.in_features

    @property
    def propagate_grad(self) -> bool:
        """The Dense's flag: every block over the same Dense sees one value."""
        return self.dense.propagate_grad

    @propagate_grad.setter
    def propagate_grad(self, value: bool) -> None:
        self.dense.propagate_grad = value

    @property
    def backend(self) -> Backend:
        """The Dense's backend: a model built on a device (or with other kernels) carries it to the block."""
        return self.dense.backend

    @backend.setter
    def backend(self, value: Backend) -> None:
        self.dense.backend = value

    def output_features(self, in_features: int) -> int:
        return self.dense.output_features(in_features)

    def forward(self, x, training: bool = False):
        return self.dense.forward_act(x, training, self.act, self.alpha)

    def backward(self, grad_out):
        return self.dense.backward_act(grad_out, self.act, self.alpha)

    def scaled_input(self, scale: float) -> DenseActivation:
        return DenseActivation(self.dense.scaled_input(scale), self.act, self.alpha)

    def __repr__(self) -> str:
        return f"DenseActivation({self.dense!r}, {NAMES[self.act]})"


def activation_code(layer: Layer) -> tuple[int, float] | None:
    """(code, alpha) of an activation layer a Dense can absorb, or None.

    LeakyReLU fuses only for alpha >= 0: its derivative is then readable from the output's sign. A subclass
    that brings its own forward or backward (a hand-written derivative to try) is not absorbed: the fused
    kernel would run the built-in maths instead of its code."""
    if _own_maths(layer):
        return None
    if isinstance(layer, ReLU):
        return RELU, 0.0
    if isinstance(layer, LeakyReLU) and layer.alpha >= 0:
        return LEAKY_RELU, layer.alpha
    if isinstance(layer, Sigmoid):
        return SIGMOID, 0.0
    if isinstance(layer, Tanh):
        return TANH, 0.0
    return None


def _own_maths(layer: Layer) -> bool:
    """Whether an activation layer's class replaces the forward or backward of the built-in one it extends."""
    base = next((cls for cls in (ReLU, LeakyReLU, Sigmoid, Tanh) if isinstance(layer, cls)), None)
    return base is not None and any(getattr(type(layer), name) is not getattr(base, name)
                                    for name in ("forward", "backward"))


def fuse(chain: list[Layer]) -> list[Layer]:
    """The chain with every Dense (and the activation right after it, if any) as one DenseActivation."""
    fused: list[Layer] = []
    i = 0
    while i < len(chain):
        layer = chain[i]
        if not isinstance(layer, Dense):
            fused.append(layer)
            i += 1
            continue
        code = activation_code(chain[i + 1]) if i + 1 < len(chain) else None
        fused.append(DenseActivation(layer, *(code or (IDENTITY, 0.0))))
        i += 2 if code else 1
    return fused
