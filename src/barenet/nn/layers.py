"""Layers: each owns its parameters and gradients and does its own backward pass.

The protocol every layer follows:

    build(rng, dtype, backend) create parameters (layers without any do nothing) on the backend's
                               device, from host draws of `rng`; remember the backend
    forward(x, training)       x: (batch, features) -> output, remembering what backward needs
    backward(grad_out)         dLoss/d(output) -> dLoss/d(input); fills `grads`
    params, grads              dicts of arrays with the same keys
    in_features                the input width the layer requires, or None (any width)
    constrained                True if apply_constraints() changes the weights after an update
    scaled_input(scale)        an inference copy that absorbs an input scale, or None
    get_config()               a JSON-able dict that `from_config` turns back into the layer

Layers with parameters keep the maths in private `_fwd`/`_bwd` (shapes in their
docstrings) and the bookkeeping (checks, saved inputs, reused buffers) in the
public `forward`/`backward`; the element-wise layers are short enough to be both.
A layer computes through its `backend` (`barenet.backend`: the model's, given to `build`; the CPU's
until then): array maths through `backend.xp` (NumPy, or CuPy for a model on "cuda"), matrix
products through `backend.gemm`, element-wise kernels through `backend.kernels`. It never asks
an array where it lives, so one layer runs on every device.

Arrays returned by `forward`/`backward` while training may be buffers that the
layer reuses on its next call (the hot loop allocates nothing it can reuse):
copy them if you need them to outlive the next step. Layers never modify the
arrays they are given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import Backend, get_backend
from ..errors import ConfigError, ShapeError
from ..kernels.activations import IDENTITY
from . import functional, initializers


class Layer:
    """Base class: a parameter-free identity layer."""

    in_features: int | None = None  # None: takes inputs of any width
    constrained = False             # True: apply_constraints() must run after every update
    gives_probabilities = False     # True: the outputs are probabilities (Softmax, Sigmoid)

    def __init__(self):
        self.backend: Backend = get_backend("cpu")  # where its arrays live and how it computes: set by build()
        self.params: dict = {}
        self.grads: dict = {}
        self.propagate_grad = True  # False for a first layer: its input gradient is never used
        self._buffers: dict = {}

    def build(self, rng: np.random.Generator, dtype=np.float32, backend: Backend | None = None) -> None:
        """Create parameters on `backend`'s device (None: the layer's own, the CPU unless built before);
        layers without parameters only remember the backend."""
        self.backend = backend or self.backend

    def output_features(self, in_features: int) -> int:
        """Features per sample leaving this layer, given those entering it."""
        return in_features

    def forward(self, x, training: bool = False):
        return x

    def backward(self, grad_out):
        return grad_out

    def apply_constraints(self) -> None:
        """Project the parameters back into their allowed set after an update (no-op here)."""

    def scaled_input(self, scale: float) -> Layer | None:
        """An inference-only copy of this layer that takes x and computes what this layer computes
        for x * scale, or None when the layer cannot absorb the scale."""
        return None

    def get_config(self) -> dict:
        return {"type": type(self).__name__}

    def _buffer(self, name: str, shape: tuple, dtype):
        """A reusable array for this layer's training-time outputs."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._buffers[name] = self.backend.xp.empty(shape, dtype=dtype)
        return buf

    def __repr__(self) -> str:
        options = {k: v for k, v in self.get_config().items() if k != "type"}
        args = ", ".join(f"{k}={v!r}" for k, v in options.items())
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """Fully connected layer: `y = x @ W + b`, W of shape (in_features, out_features).

    Backward, for grad_out = dL/dy of shape (batch, out):
        dL/dW = x.T @ grad_out      dL/db = grad_out summed over the batch
        dL/dx = grad_out @ W.T
    `max_norm` (optional) caps the L2 norm of each unit's incoming weights
    (each column of W) after every optimizer step (Srivastava et al. 2014).
    """

    def __init__(self, in_features: int, out_features: int, init="he_normal",
                 bias_init="zeros", use_bias: bool = True, max_norm: float | None = None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"Dense {name} must be a positive integer, got {value!r}")
        if max_norm is not None and not max_norm > 0:
            raise ConfigError(f"max_norm must be positive, got {max_norm!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init, self.bias_init, self.use_bias = init, bias_init, bool(use_bias)
        self.max_norm = max_norm
        self._weight_init = initializers.get(init)
        self._bias_init = initializers.get(bias_init)
        self._x: Any = None  # the input and output of the last training forward, for backward
        self._y: Any = None
        self.defer_outer = False  # True: a one-sample weight gradient is kept as its factors (`outer_factors`)
        self.outer_factors: tuple | None = None

    def build(self, rng, dtype=np.float32, backend: Backend | None = None):
        """W (in, out) and b (out,) drawn on the host from `rng`, then placed on `backend`'s device."""
        if self.params:
            return
        self.backend = backend = backend or self.backend
        shape = (self.in_features, self.out_features)
        self.params["W"] = backend.asarray(np.ascontiguousarray(self._weight_init(shape, rng, dtype)))
        self.grads["W"] = backend.xp.zeros_like(self.params["W"])
        if self.use_bias:
            self.params["b"] = backend.asarray(np.ascontiguousarray(self._bias_init((self.out_features,), rng, dtype)))
            self.grads["b"] = backend.xp.zeros_like(self.params["b"])

    def output_features(self, in_features):
        if in_features != self.in_features:
            raise ConfigError(f"layer sizes do not chain: a Dense layer expecting {self.in_features} "
                              f"inputs follows one giving {in_features}")
        return self.out_features

    @property
    def constrained(self) -> bool:  # type: ignore[override]
        return self.max_norm is not None

    def forward(self, x, training=False):
        return self.forward_act(x, training, IDENTITY, 0.0)

    def backward(self, grad_out):
        return self.backward_act(grad_out, IDENTITY, 0.0)

    def forward_act(self, x, training: bool, act: int, alpha: float):
        """act(x @ W + b) for an activation code of `kernels.activations` (IDENTITY: plain Dense)."""
        if not self.params:
            raise ConfigError("Dense layer has no weights yet: call build(rng) or put it in a Sequential")
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ShapeError(f"Dense layer expects (batch, {self.in_features}) input, got {tuple(x.shape)}")
        if not training:
            return self._fwd(x, act, alpha)
        self._x = x
        self._y = self._fwd(x, act, alpha, out=self._buffer("out", (x.shape[0], self.out_features),
                                                                      self.params["W"].dtype))
        return self._y

    def backward_act(self, grad_out, act: int, alpha: float):
        """Backward through act(x @ W + b) for the input and output of the last training forward."""
        x = self._x
        grad_in = self._buffer("grad_in", x.shape, self.params["W"].dtype) if self.propagate_grad else None
        grad_pre = grad_out if act == IDENTITY else self._buffer("grad_pre", grad_out.shape, grad_out.dtype)
        return self._bwd(x, self._y, grad_out, act, alpha, grad_pre, grad_in)

    def _fwd(self, x, act, alpha, out=None):
        """y = act(x @ W + b): x (batch, in), W (in, out), b (out,) -> y (batch, out), into `out` if given.

        One sample (per-sample SGD, one image) is a vector-matrix product that skips the rows of W whose
        input is 0 (most MNIST pixels, many ReLU outputs); a batch is a GEMM."""
        if x.shape[0] == 1:
            y = self.backend.xp.empty((1, self.out_features), self.params["W"].dtype) if out is None else out
            self.backend.kernels.vector_matrix(x, self.params["W"], y)
        else:
            y = self.backend.gemm.matmul(x, self.params["W"], out=out)
        if self.use_bias or act != IDENTITY:
            self.backend.kernels.bias_act(y, self.params["b"] if self.use_bias else y[0, :0], act, y.dtype.type(alpha))
        return y

    def _bwd(self, x, y, grad_out, act, alpha, grad_pre, grad_in=None):
        """x (batch, in), y = act(x @ W + b) (batch, out), grad_out = dL/dy -> dL/dx (batch, in) into
        `grad_in` (None: not needed), through grad_pre = dL/d(x @ W + b) (batch, out).

        Fills grads["W"] = x.T @ grad_pre (in, out) and grads["b"] = grad_pre summed over rows (out,); for one
        sample with `defer_outer` set, keeps (x, grad_pre) in `outer_factors` instead of forming grads["W"].
        """
        if act != IDENTITY or self.use_bias:
            grad_b = self.grads["b"] if self.use_bias else y[0, :0]
            self.backend.kernels.act_backward(grad_out, y, act, y.dtype.type(alpha), grad_pre, grad_b)
        if x.shape[0] == 1 and self.defer_outer:  # the optimizer makes x.T @ grad_pre where it uses it
            self.outer_factors = (x, grad_pre)
        elif x.shape[0] == 1:  # per-sample SGD: a rank-1 outer product, far faster than a GEMM with inner size 1
            self.backend.kernels.outer(x, grad_pre, self.grads["W"])
        else:
            self.backend.gemm.matmul(x.T, grad_pre, out=self.grads["W"])
        if grad_in is None:
            return None
        return self.backend.gemm.matmul(grad_pre, self.params["W"].T, out=grad_in)

    def apply_constraints(self) -> None:
        """Rescale columns of W whose L2 norm exceeds `max_norm` (after an update)."""
        if self.max_norm is None:
            return
        W, xp = self.params["W"], self.backend.xp
        norms = xp.sqrt((W * W).sum(axis=0))
        W *= xp.minimum(1.0, self.max_norm / xp.maximum(norms, 1e-12)).astype(W.dtype)

    def scaled_input(self, scale: float) -> Dense:
        """(x * scale) @ W + b = x @ (W * scale) + b: a copy holding W * scale, for inference.

        Prediction on uint8 pixels uses it: scaling the weights once costs less than
        scaling every pixel of every image (the conversion becomes a plain cast)."""
        W = self.params["W"]
        twin = Dense(W.shape[0], W.shape[1], init=self.init, bias_init=self.bias_init, use_bias=self.use_bias)
        twin.params = {"W": W * W.dtype.type(scale), **({"b": self.params["b"]} if self.use_bias else {})}
        twin.backend = self.backend
        return twin

    def __repr__(self) -> str:
        extras = "" if self.use_bias else ", no bias"
        extras += f", max_norm={self.max_norm}" if self.max_norm is not None else ""
        return f"Dense({self.in_features} -> {self.out_features}, init={self.init!r}{extras})"

    def get_config(self):
        return {"type": "Dense", "in_features": self.in_features, "out_features": self.out_features,
                "init": self.init, "bias_init": self.bias_init, "use_bias": self.use_bias,
                "max_norm": self.max_norm}


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1*d2*...), e.g. 28x28 images to 784 features."""

    def forward(self, x, training=False):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out):
        return grad_out.reshape(self._shape)


class ReLU(Layer):
    """max(x, 0); its derivative is 1 where x > 0 and 0 elsewhere (not `x > 1`)."""

    def forward(self, x, training=False):
        xp = self.backend.xp
        if not training:
            return xp.maximum(x, 0)
        self._mask = xp.greater(x, 0, out=self._buffer("mask", x.shape, bool))
        return xp.multiply(x, self._mask, out=self._buffer("out", x.shape, x.dtype))

    def backward(self, grad_out):
        grad_in = self._buffer("grad_in", grad_out.shape, grad_out.dtype)
        return self.backend.xp.multiply(grad_out, self._mask, out=grad_in)


class LeakyReLU(Layer):
    """x for x > 0, alpha * x otherwise."""

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x, training=False):
        self._slope = self.backend.xp.where(x > 0, 1.0, self.alpha).astype(x.dtype)
        return x * self._slope

    def backward(self, grad_out):
        return grad_out * self._slope

    def get_config(self):
        return {"type": "LeakyReLU", "alpha": self.alpha}


class Sigmoid(Layer):
    """1 / (1 + exp(-x)), computed without overflow; derivative s * (1 - s)."""

    gives_probabilities = True

    def forward(self, x, training=False):
        self._out = functional.sigmoid(x, self.backend.xp)
        return self._out

    def backward(self, grad_out):
        return grad_out * self._out * (1.0 - self._out)


class Tanh(Layer):
    """tanh(x); derivative 1 - tanh(x)^2."""

    def forward(self, x, training=False):
        self._out = self.backend.xp.tanh(x)
        return self._out

    def backward(self, grad_out):
        return grad_out * (1.0 - self._out * self._out)


class Softmax(Layer):
    """Row-wise softmax as a layer of its own.

    Its Jacobian is not diagonal: ds_i/dz_j = s_i (delta_ij - s_j), so the
    backward pass is the Jacobian-vector product
        dL/dz = s * (g - sum_j g_j s_j)
    and not the element-wise s * (1 - s) that breaks many hand-written nets.
    With `softmax_cross_entropy` you do not need this layer: that loss applies
    softmax itself, from the logits.
    """

    gives_probabilities = True

    def forward(self, x, training=False):
        self._out = functional.softmax(x, self.backend.xp)
        return self._out

    def backward(self, grad_out):
        s = self._out
        return s * (grad_out - (grad_out * s).sum(axis=1, keepdims=True))


class Dropout(Layer):
    """Inverted dropout: while training, zero each input with probability `rate`
    and scale the survivors by 1 / (1 - rate); at inference, pass x through.

    `rate` is the probability to DROP. Notebooks that pass a keep probability
    (e.g. `keep_prob=0.8`) mean `Dropout(rate=0.2)`.

    The masks come from a counter-based generator inside the kernel (`kernels/dropout.py`):
    a `key` drawn once from the model's seed and an `offset` that advances by the batch's
    size every training step. Those two integers are the layer's whole random state
    (`random_state`, saved in checkpoints); every device draws the same masks from them,
    on the device, with nothing copied from the host.
    """

    def __init__(self, rate: float):
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ConfigError(f"dropout rate is the probability to drop and must be in [0, 1), "
                              f"got {rate!r} (for keep probability p use rate=1-p)")
        self.rate = float(rate)
        self.key: int | None = None  # the generator's key (< 2^32): set by build
        self.offset = 0              # how many numbers the generator has given so far
        self._keep = None  # boolean mask of the units kept in the last training step

    @property
    def last_mask(self):
        """The scaled mask (0 or 1/(1-rate)) of the last training step, or None (for parity checks)."""
        if self._keep is None:
            return None
        return self._keep * self._buffers["out"].dtype.type(1.0 / (1.0 - self.rate))

    def build(self, rng, dtype=np.float32, backend: Backend | None = None):
        """A key for the masks from the model's seed, and the count of numbers drawn back to 0.

        The key comes from a child of `rng`'s seed sequence, which leaves `rng`'s own stream (and so the
        initial weights and the shuffles) untouched; a generator without one gives a draw from itself."""
        self.backend = backend or self.backend
        seed_sequence = getattr(rng.bit_generator, "seed_seq", None)
        if isinstance(seed_sequence, np.random.SeedSequence):
            self.key = int(seed_sequence.spawn(1)[0].generate_state(1)[0])
        else:
            self.key = int(rng.integers(2 ** 32))
        self.offset = 0

    def random_state(self) -> dict:
        """{"key", "offset"}: everything the next masks depend on."""
        return {"key": self.key, "offset": self.offset}

    def load_random_state(self, state: dict) -> None:
        self.key, self.offset = int(state["key"]), int(state["offset"])

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._keep = None
            return x
        if self.key is None:
            raise ConfigError("Dropout has no random generator: call build(rng) or put it in a Sequential")
        self._keep = self._buffer("keep", x.shape, bool)
        out = self._buffer("out", x.shape, x.dtype)
        self.backend.kernels.dropout_forward(x, np.uint64(self.key), np.uint64(self.offset),
                                             x.dtype.type(self.rate), self._scale(x.dtype), self._keep, out)
        self.offset += x.size
        return out

    def backward(self, grad_out):
        if self._keep is None:
            return grad_out
        grad_in = self._buffer("grad_in", grad_out.shape, grad_out.dtype)
        self.backend.kernels.dropout_backward(grad_out, self._keep, self._scale(grad_out.dtype), grad_in)
        return grad_in

    def _scale(self, dtype):
        """1 / (1 - rate), the survivors' factor, as a scalar of `dtype`."""
        return dtype.type(1.0 / (1.0 - self.rate))

    def get_config(self):
        return {"type": "Dropout", "rate": self.rate}


ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax}
LAYER_TYPES = {cls.__name__: cls for cls in (Dense, Flatten, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, Dropout)}


def activation(name: str) -> Layer:
    """A new activation layer by name: relu, leaky_relu, sigmoid, tanh, softmax."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}: use one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def from_config(config: dict) -> Layer:
    """Rebuild a layer from `get_config()` output (no code is executed from the dict)."""
    options = dict(config)
    kind = options.pop("type", None)
    if kind not in LAYER_TYPES:
        raise ConfigError(f"unknown layer type {kind!r}: use one of {', '.join(LAYER_TYPES)}")
    return LAYER_TYPES[kind](**options)
