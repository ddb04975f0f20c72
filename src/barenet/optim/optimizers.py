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

A step, as a training loop drives it:

    scale = optimizer.begin_step()      # lr from a per-step schedule; the factor the gradients should carry
    ...backward pass, with the loss gradient multiplied by `scale`...
    optimizer.update(params, grads)     # grads hold scale x the true gradients

`scale` is 1.0 except for SGD's prescaled fast path (see `SGD`). Outside a training
loop, `optimizer.step(params, grads)` takes true gradients and does both halves.
"""

from __future__ import annotations

import math

from ..backend import xp
from ..errors import ConfigError
from ..registry import build, config_repr
from . import schedules


def _check_nonnegative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: the schedule handshake, gradient clipping, state and its saving; subclasses hold the maths."""

    name = "optimizer"

    def __init__(self, lr=0.01, clipnorm: float | None = None):
        self.schedule = schedules.get(lr)
        self.lr = self.schedule(0)
        self.clipnorm = None if clipnorm is None else _check_nonnegative("clipnorm", clipnorm)
        self.iterations = 0
        self.state: list[dict] = []
        self.grad_scale = 1.0  # what the gradients of the step in progress carry (set by begin_step)
        self._scratch: list = []  # one work array per parameter, so steps allocate nothing

    def set_lr(self, epoch: int) -> float:
        """At the start of an epoch: set `lr` from the schedule (per-epoch schedules); returns it."""
        self.lr = self.schedule(epoch if self.schedule.per == "epoch" else self.iterations)
        return self.lr

    def begin_step(self, prescaled: bool = True) -> float:
        """Start a step: set `lr` from a per-step schedule; return the factor the gradients should carry.

        1.0 asks for the true gradients. An optimizer with a prescaled fast path may ask for
        another factor when `prescaled` is True (the caller can deliver gradients so scaled,
        e.g. by multiplying the small loss gradient before the backward pass).
        """
        if self.schedule.per == "step":
            self.lr = self.schedule(self.iterations)
        self.grad_scale = self._prescale() if prescaled else 1.0
        return self.grad_scale

    def update(self, params: list, grads: list) -> None:
        """Finish the step `begin_step` started: update every array in `params` in place.

        `grads` hold the gradients times the factor `begin_step` returned; they may be overwritten.
        """
        if not self.state:
            self.state = [self._new_state(p) for p in params]
        self.iterations += 1
        if self.clipnorm is not None:
            clip_by_global_norm(grads, self.clipnorm)
        if len(self._scratch) != len(params):
            self._scratch = [xp.empty_like(p) for p in params]
        for param, grad, state, scratch in zip(params, grads, self.state, self._scratch):
            self._update(param, grad, state, scratch)

    def step(self, params: list, grads: list) -> None:
        """One whole step from true gradients (for use outside a training loop)."""
        self.begin_step(prescaled=False)
        self.update(params, grads)

    def _prescale(self) -> float:
        """The gradient factor this optimizer's fast path wants for the coming step (1.0: none)."""
        return 1.0

    def _new_state(self, param) -> dict:
        return {}

    def _update(self, param, grad, state, scratch) -> None:
        """Update `param` in place. `grad` may be overwritten; `scratch` is a work array of param's shape."""
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
        self.state = [self._new_state(p) for p in params]
        for i, flags in enumerate(scalars.get("flags", [])):
            self.state[i].update(flags)
        for key, value in state["arrays"].items():
            index, name = key.split(".", 1)
            self.state[int(index)][name] = xp.array(value, dtype=params[int(index)].dtype)


def clip_by_global_norm(grads: list, max_norm: float) -> float:
    """Scale all gradients in place so their joint L2 norm is at most `max_norm`; return the norm."""
    total = math.sqrt(sum(float(xp.vdot(g.ravel(), g.ravel())) for g in grads))
    factor = max_norm / (total + 1e-6)
    if factor < 1.0:
        for g in grads:
            g *= g.dtype.type(factor)
    return total


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and L2 weight decay.

    Prescaled fast path (`prescaled=True`, the default): plain SGD (no weight decay,
    Nesterov, dampening or clipping, lr > 0) asks for gradients already multiplied by
    lr, g' = lr g, and stores its velocity as u = lr v. The update p -= lr v is then
    p -= u, with u = mu (lr / lr_prev) u + g': three passes over memory per step
    (u *= c, u += g', p -= u) instead of four, and no scratch array; the update is
    memory-bound, so that is most of its cost. `velocity_scale` in the state records
    which lr the stored velocity carries, so a resumed run continues bit for bit.
    Every step runs the same update; only the factor its inputs carry differs.
    """

    name = "sgd"

    def __init__(self, lr=0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, dampening: float = 0.0, clipnorm=None, prescaled: bool = True):
        super().__init__(lr, clipnorm)
        self.momentum = _check_nonnegative("momentum", momentum)
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)
        self.dampening = _check_nonnegative("dampening", dampening)
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ConfigError("Nesterov momentum needs momentum > 0 and dampening = 0")
        self.nesterov = bool(nesterov)
        self.prescaled = bool(prescaled)

    def _prescale(self) -> float:
        plain = not (self.nesterov or self.weight_decay or self.dampening or self.clipnorm is not None)
        return self.lr if self.prescaled and plain and self.lr > 0 else 1.0

    def _new_state(self, param):
        return {"velocity": xp.zeros_like(param), "velocity_scale": 1.0} if self.momentum else {}

    def _update(self, param, grad, state, scratch):
        """`grad` holds s g (s = grad_scale); the velocity is stored as s v; p -= (lr / s) * direction."""
        dtype, scale = param.dtype.type, self.grad_scale
        if self.weight_decay:
            grad += xp.multiply(param, dtype(self.weight_decay), out=scratch)
        direction = grad
        if self.momentum:
            direction = self._velocity(grad, state, scratch, scale)
            if self.nesterov:
                direction = xp.multiply(direction, dtype(self.momentum), out=scratch)
                direction += grad
        if scale == self.lr:
            param -= direction
        else:
            param -= xp.multiply(direction, dtype(self.lr / scale), out=scratch)

    def _velocity(self, grad, state, scratch, scale: float):
        """v = mu v + (1 - dampening) g, kept as `scale` x v (torch starts it at the first gradient, undamped)."""
        velocity, dtype = state["velocity"], grad.dtype.type
        if self.iterations == 1:
            velocity[...] = grad
        else:
            previous = state["velocity_scale"]
            velocity *= dtype(self.momentum if scale == previous else self.momentum * scale / previous)
            velocity += xp.multiply(grad, dtype(1 - self.dampening), out=scratch) if self.dampening else grad
        state["velocity_scale"] = scale
        return velocity

    def get_config(self):
        config = {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov,
                  "weight_decay": self.weight_decay, "dampening": self.dampening}
        return config if self.prescaled else {**config, "prescaled": False}


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
        return {"m": xp.zeros_like(param), "v": xp.zeros_like(param)}

    def _update(self, param, grad, state, scratch):
        t, dtype = self.iterations, param.dtype.type
        if self.weight_decay:
            if self.decoupled:
                param *= dtype(1.0 - self.lr * self.weight_decay)
            else:
                grad += xp.multiply(param, dtype(self.weight_decay), out=scratch)
        m, v = state["m"], state["v"]
        m *= dtype(self.beta1)
        m += xp.multiply(grad, dtype(1.0 - self.beta1), out=scratch)
        v *= dtype(self.beta2)
        xp.multiply(grad, grad, out=scratch)
        scratch *= dtype(1.0 - self.beta2)
        v += scratch
        step_size = self.lr / (1.0 - self.beta1 ** t)
        denom = xp.sqrt(v, out=scratch)
        denom /= dtype(math.sqrt(1.0 - self.beta2 ** t))
        denom += dtype(self.eps)
        xp.divide(m, denom, out=scratch)
        scratch *= dtype(step_size)
        param -= scratch

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
        state = {"square_avg": xp.zeros_like(param)}
        if self.momentum:
            state["momentum_buffer"] = xp.zeros_like(param)
        if self.centered:
            state["grad_avg"] = xp.zeros_like(param)
        return state

    def _update(self, param, grad, state, scratch):
        dtype = param.dtype.type
        if self.weight_decay:
            grad += xp.multiply(param, dtype(self.weight_decay), out=scratch)
        square_avg = state["square_avg"]
        square_avg *= dtype(self.alpha)
        square_avg += dtype(1.0 - self.alpha) * grad * grad
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg *= dtype(self.alpha)
            grad_avg += dtype(1.0 - self.alpha) * grad
            denom = xp.sqrt(square_avg - grad_avg * grad_avg) + dtype(self.eps)
        else:
            denom = xp.sqrt(square_avg) + dtype(self.eps)
        if self.momentum:
            buf = state["momentum_buffer"]
            buf *= dtype(self.momentum)
            buf += grad / denom
            param -= dtype(self.lr) * buf
        else:
            param -= dtype(self.lr) * (grad / denom)

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
    return build(spec, REGISTRY, "optimizer")
