"""Optimizers: update parameter arrays in place from their gradients.

An optimizer sees only parallel lists of parameter and gradient arrays; it never
knows layer types. A model hands it the whole network as one flat parameter array
and one flat gradient array, so a step is a few array operations however many
layers there are. State (momentum buffers, moment estimates) is created on the
first step.

The update rules are PyTorch's (torch.optim), so the parity tests can follow
torch step for step:

    SGD      g += wd * p;  v = mu * v + (1 - dampening) g (v = g on the first step);
             p -= lr * (g + mu * v if nesterov else v)
    Adam     m = b1 m + (1-b1) g;  s = b2 s + (1-b2) g^2;
             p -= lr * (m / (1-b1^t)) / (sqrt(s / (1-b2^t)) + eps)      (wd adds wd*p to g)
    AdamW    Adam with decoupled decay: p *= 1 - lr * wd before the update
    RMSprop  s = alpha s + (1-alpha) g^2;  p -= lr g / (sqrt(s) + eps)   (optional momentum, centered)

`clipnorm` rescales all gradients together when their global L2 norm exceeds
it (torch.nn.utils.clip_grad_norm_: factor clipnorm / (norm + 1e-6)).

A step: `optimizer.step(params, grads)` with the true gradients. Each rule runs as
one kernel over the whole flat buffer (`barenet.kernels.updates`: the NumPy reference, the
fused loop and the CUDA source side by side). Like tinygrad's optimizers, which read the
device once from their parameters, an optimizer is given the model's `backend` once
(`build`, at `Sequential.compile`; the CPU's until then): its kernels update the
parameters, and its array module creates the state, on the parameters' device.
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy

from ..backend import Backend, get_backend
from ..errors import ConfigError
from ..registry import build, config_repr
from . import schedules
from .gradients import OuterProducts


def _check_nonnegative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: the schedule handshake, gradient clipping, state and its saving; subclasses hold the maths."""

    name = "optimizer"
    updates_outer_products = False  # True: `_update` takes an `OuterProducts` gradient as it is (SGD)

    def __init__(self, lr=0.01, clipnorm: float | None = None):
        self.schedule = schedules.get(lr)
        self.lr = self.schedule(0)
        self.clipnorm = None if clipnorm is None else _check_nonnegative("clipnorm", clipnorm)
        self.iterations = 0
        self.state: list[dict] = []
        self.backend: Backend = get_backend("cpu")

    def build(self, backend: Backend) -> None:
        """Update parameters on `backend` from now on (`Sequential.compile` hands over the model's)."""
        self.backend = backend

    def set_lr(self, epoch: int) -> float:
        """At the start of an epoch: set `lr` from the schedule (per-epoch schedules); returns it."""
        self.lr = self.schedule(epoch if self.schedule.per == "epoch" else self.iterations)
        return self.lr

    def step(self, params: list, grads: list) -> None:
        """Update every array in `params` in place from its gradient in `grads` (which may be overwritten)."""
        if self.schedule.per == "step":
            self.lr = self.schedule(self.iterations)
        params, grads = [_flat(p) for p in params], [self._gradient(g) for g in grads]
        if not self.state:
            self.state = [self._new_state(p) for p in params]
        self.iterations += 1
        if self.clipnorm is not None:
            clip_by_global_norm(grads, self.clipnorm, self.backend.xp)
        for param, grad, state in zip(params, grads, self.state):
            self._update(param, grad, state)

    def _gradient(self, grad):
        """A flat gradient, or an `OuterProducts` kept unformed for an update that uses the factors."""
        if not isinstance(grad, OuterProducts):
            return _flat(grad)
        if self.updates_outer_products and self.clipnorm is None:  # clipping needs the formed gradient's norm
            return grad
        return grad.formed(self.backend.kernels)

    def _new_state(self, param) -> dict:
        return {}

    def _update(self, param, grad, state) -> None:
        """Update `param` (1-D) in place from `grad` (may be overwritten) and its `state` arrays."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "lr": self.schedule.get_config(), "clipnorm": self.clipnorm}

    def __repr__(self) -> str:
        """`SGD(lr=0.1, momentum=0.9)`: the learning rate (or its schedule) and the options not at their defaults."""
        lr = self.schedule.initial_lr if self.schedule.name == "constant" else self.schedule
        return config_repr(self, {**self.get_config(), "lr": lr}, always=("lr",))

    def state_dict(self) -> dict:
        """Everything needed to resume: counters and state arrays (by slot index)."""
        arrays = {f"{i}.{key}": value for i, state in enumerate(self.state)
                  for key, value in state.items() if hasattr(value, "shape")}
        scalars = {"iterations": self.iterations, "lr": self.lr,
                   "schedule": self.schedule.state_dict(),
                   "flags": [{k: v for k, v in s.items() if not hasattr(v, "shape")} for s in self.state]}
        return {"arrays": arrays, "scalars": scalars}

    def load_state_dict(self, state: dict, params: list) -> None:
        scalars = state["scalars"]
        self.iterations, self.lr = int(scalars["iterations"]), float(scalars["lr"])
        self.schedule.load_state_dict(scalars.get("schedule", {}))
        self.state = [self._new_state(_flat(p)) for p in params]
        for i, flags in enumerate(scalars.get("flags", [])):
            self.state[i].update(flags)
        for key, value in state["arrays"].items():
            index, name = key.split(".", 1)
            param = params[int(index)]
            with self.backend.activated():
                self.state[int(index)][name] = self.backend.xp.array(value, dtype=param.dtype)
        for slot in self.state:
            _unfold_velocity(slot)


def _flat(array):
    """A 1-D view of `array` (the kernels loop over one index); the array must be contiguous."""
    if not array.flags.c_contiguous:
        raise ConfigError("optimizers update contiguous arrays in place: pass np.ascontiguousarray(...) ones")
    return array.reshape(-1)


def _unfold_velocity(state: dict) -> None:
    """Checkpoints written before the fused kernels kept SGD's velocity as lr x v ("velocity_scale")."""
    scale = state.pop("velocity_scale", 1.0)
    if scale not in (0.0, 1.0) and "velocity" in state:
        state["velocity"] /= state["velocity"].dtype.type(scale)


def clip_by_global_norm(grads: list, max_norm: float, xp: ModuleType = numpy):
    """Scale all gradients (arrays of the module `xp`) in place so their joint L2 norm is at most `max_norm`;
    return the norm: a float on the host; on a device a 0-d array (the scaling is done there, without waiting
    for the norm; `float()` reads it)."""
    total = xp.sqrt(sum(xp.vdot(g.ravel(), g.ravel()).astype(xp.float64) for g in grads))
    factor = xp.minimum(1.0, max_norm / (total + 1e-6))
    if xp is not numpy:
        for g in grads:
            g *= factor.astype(g.dtype)
        return total
    if factor < 1.0:
        for g in grads:
            g *= g.dtype.type(factor)
    return float(total)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and L2 weight decay."""

    name = "sgd"
    updates_outer_products = True  # one sample's weight gradients are used as factors (`sgd_outer`)

    def __init__(self, lr=0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, dampening: float = 0.0, clipnorm=None):
        super().__init__(lr, clipnorm)
        self.momentum = _check_nonnegative("momentum", momentum)
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)
        self.dampening = _check_nonnegative("dampening", dampening)
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ConfigError("Nesterov momentum needs momentum > 0 and dampening = 0")
        self.nesterov = bool(nesterov)
        self._layout: tuple | None = None  # the flat buffer's split for factored updates, and its views
        self._views: tuple[list, list] = ([], [])

    def _new_state(self, param):
        return {"velocity": self.backend.xp.zeros_like(param)} if self.momentum else {}

    def _update(self, param, grad, state):
        velocity = state.get("velocity", param[:0])
        options = (self.lr, self.momentum, self.dampening, self.nesterov, self.weight_decay, self.iterations == 1)
        kernels = self.backend.kernels
        if not isinstance(grad, OuterProducts):
            kernels.sgd(param, grad, velocity, *options)
            return
        stretches, matrices = self._segments(param, grad, velocity)
        for p, g, v in stretches:  # biases and the rest: as usual
            kernels.sgd(p, g, v, *options)
        for (p, v), (_, _, x, factor) in zip(matrices, grad.parts):  # one-sample weight gradients: from factors
            kernels.sgd_outer(p, x, factor, v, *options)

    def _segments(self, param, grad: OuterProducts, velocity) -> tuple[list, list]:
        """Views of param, gradient and velocity for each formed stretch and each factored matrix of `grad`:
        made once per layout (a model's is the same every step) and kept."""
        owner = param if param.base is None else param.base  # `param` itself is a new 1-D view every step
        layout = (id(owner), id(grad.flat), id(velocity), tuple((start, shape) for start, shape, _, _ in grad.parts))
        if self._layout != layout:
            stretches = [(param[a:b], grad.flat[a:b], velocity[a:b]) for a, b in grad.gaps()]
            matrices = []
            for start, shape, _, _ in grad.parts:
                stop = start + shape[0] * shape[1]
                matrices.append((param[start:stop].reshape(shape), velocity[start:stop].reshape(shape)
                                 if velocity.size else param[:0].reshape(0, shape[1])))
            self._layout, self._views = layout, (stretches, matrices)
        return self._views

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay, "dampening": self.dampening}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015); `weight_decay` adds wd * p to the gradient (L2). AdamW is the same
    update with `decoupled = True`: the decay shrinks the weights directly instead."""

    name = "adam"
    decoupled = False

    def __init__(self, lr=0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0, clipnorm=None):
        super().__init__(lr, clipnorm)
        for label, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ConfigError(f"Adam {label} must be in [0, 1), got {beta!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = _check_nonnegative("eps", eps)
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)

    def _new_state(self, param):
        xp = self.backend.xp
        return {"m": xp.zeros_like(param), "v": xp.zeros_like(param)}

    def _update(self, param, grad, state):
        self.backend.kernels.adam(param, grad, state["m"], state["v"], self.lr, self.beta1, self.beta2, self.eps,
                                  self.weight_decay, self.decoupled, self.iterations)

    def get_config(self):
        return {**super().get_config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                "weight_decay": self.weight_decay}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): p *= 1 - lr * wd."""

    name = "adamw"
    decoupled = True

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, clipnorm=None):
        super().__init__(lr, beta1, beta2, eps, weight_decay, clipnorm)


class RMSprop(Optimizer):
    """RMSprop (Hinton); torch's defaults alpha=0.99, eps=1e-8 (Keras: rho=0.9, eps=1e-7)."""

    name = "rmsprop"

    def __init__(self, lr=0.01, alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0,
                 centered: bool = False, weight_decay: float = 0.0, clipnorm=None):
        super().__init__(lr, clipnorm)
        if not 0.0 <= alpha < 1.0:
            raise ConfigError(f"RMSprop alpha must be in [0, 1), got {alpha!r}")
        self.alpha, self.eps = float(alpha), _check_nonnegative("eps", eps)
        self.momentum = _check_nonnegative("momentum", momentum)
        self.centered = bool(centered)
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)

    def _new_state(self, param):
        xp = self.backend.xp
        state = {"square_avg": xp.zeros_like(param)}
        if self.momentum:
            state["momentum_buffer"] = xp.zeros_like(param)
        if self.centered:
            state["grad_avg"] = xp.zeros_like(param)
        return state

    def _update(self, param, grad, state):
        empty = param[:0]
        self.backend.kernels.rmsprop(param, grad, state["square_avg"], state.get("grad_avg", empty),
                                     state.get("momentum_buffer", empty), self.lr, self.alpha, self.eps,
                                     self.momentum, self.centered, self.weight_decay)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "eps": self.eps, "momentum": self.momentum,
                "centered": self.centered, "weight_decay": self.weight_decay}


REGISTRY = {cls.name: cls for cls in (SGD, Adam, AdamW, RMSprop)}


def get(spec) -> Optimizer:
    """An optimizer from a name ("sgd"), a `{"name": ..., **options}` dict, or an instance."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str):
        spec = spec.lower()
    elif isinstance(spec, dict) and isinstance(spec.get("name"), str):
        spec = {**spec, "name": spec["name"].lower()}
        if spec["name"] == "sgd" and spec.get("prescaled") is False:
            del spec["prescaled"]  # model files from before the fused kernels; the option no longer exists
    return build(spec, REGISTRY, "optimizer")
