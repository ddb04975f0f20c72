"""Optimizers: update parameter arrays in place from their gradients.

An optimizer sees only parallel lists of parameter and gradient arrays (the
values of each layer's `params` and `grads` dicts); it never knows layer types.
State (momentum buffers, moment estimates) is created on the first step.

The update rules are PyTorch's (torch.optim), so the parity tests can follow
torch step for step:

    SGD      g += wd * p;  v = mu * v + g (v = g on the first step);
             p -= lr * (g + mu * v if nesterov else v)
    Adam     m = b1 m + (1-b1) g;  s = b2 s + (1-b2) g^2;
             p -= lr * (m / (1-b1^t)) / (sqrt(s / (1-b2^t)) + eps)      (wd adds wd*p to g)
    AdamW    Adam with decoupled decay: p *= 1 - lr * wd before the update
    RMSprop  s = alpha s + (1-alpha) g^2;  p -= lr g / (sqrt(s) + eps)   (optional momentum, centered)

`clipnorm` rescales all gradients together when their global L2 norm exceeds
it (torch.nn.utils.clip_grad_norm_: factor clipnorm / (norm + 1e-6)).

Training calls `begin_step()` before the backward pass: it returns the factor the
step's gradients should carry, and `step(params, grads, grad_scale)` receives them so.
Plain SGD asks for its learning rate, which saves it a pass over every parameter
(see SGD._step_prescaled); every other optimizer asks for 1.0.
"""

from __future__ import annotations

import math

from . import schedules
from .backend import xp
from .errors import ConfigError


def _check_nonnegative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


class Optimizer:
    name = "optimizer"

    def __init__(self, lr=0.01, clipnorm: float | None = None):
        self.schedule = schedules.get(lr)
        self.lr = self.schedule(0)
        self.clipnorm = None if clipnorm is None else _check_nonnegative("clipnorm", clipnorm)
        self.iterations = 0
        self.state: list[dict] = []
        self._scratch: list = []  # one work array per parameter, so steps allocate nothing

    def set_lr(self, epoch: int) -> float:
        """Set `lr` from the schedule for this epoch/step; returns it."""
        self.lr = self.schedule(epoch if self.schedule.per == "epoch" else self.iterations)
        return self.lr

    def begin_step(self) -> float:
        """Set `lr` for the coming step; return the factor its gradients should carry.

        The model multiplies the loss gradient by this factor before the backward pass,
        which scales every parameter gradient by it for free (the loss gradient is a small
        (batch, outputs) array). 1.0 here; plain SGD asks for its learning rate (see SGD).
        """
        if self.schedule.per == "step":
            self.lr = self.schedule(self.iterations)
        return 1.0

    def step(self, params: list, grads: list, grad_scale: float = 1.0) -> None:
        """Update every array in `params` in place from the matching array in `grads`.

        `grads` hold the gradients multiplied by `grad_scale` (what `begin_step` asked for;
        1.0 means the gradients themselves). They may be overwritten.
        """
        if not self.state:
            self.state = [self._new_state(p) for p in params]
        self.begin_step()
        self.iterations += 1
        if grad_scale != 1.0:
            if self._step_prescaled(params, grads, grad_scale):
                return
            for grad in grads:
                grad *= grad.dtype.type(1.0 / grad_scale)
        if self.clipnorm is not None:
            clip_by_global_norm(grads, self.clipnorm)
        if len(self._scratch) != len(params):
            self._scratch = [xp.empty_like(p) for p in params]
        for param, grad, state, scratch in zip(params, grads, self.state, self._scratch):
            self._update(param, grad, state, scratch)

    def _step_prescaled(self, params: list, grads: list, grad_scale: float) -> bool:
        """Update from gradients multiplied by `grad_scale` if this optimizer can; False if not."""
        return False

    def _new_state(self, param) -> dict:
        return {}

    def _update(self, param, grad, state, scratch) -> None:
        """Update `param` in place. `grad` may be overwritten; `scratch` is a work array of param's shape."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "lr": self.schedule.get_config(), "clipnorm": self.clipnorm}

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
    """Stochastic gradient descent with optional momentum, Nesterov and L2 weight decay."""

    name = "sgd"

    def __init__(self, lr=0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, dampening: float = 0.0, clipnorm=None):
        super().__init__(lr, clipnorm)
        self.momentum = _check_nonnegative("momentum", momentum)
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)
        self.dampening = _check_nonnegative("dampening", dampening)
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ConfigError("Nesterov momentum needs momentum > 0 and dampening = 0")
        self.nesterov = bool(nesterov)

    def begin_step(self):
        super().begin_step()
        return self.lr if self._folds_lr() else 1.0

    def _folds_lr(self) -> bool:
        """Whether this step takes its gradients pre-multiplied by lr (see `_step_prescaled`)."""
        return (self.lr > 0 and not self.nesterov and not self.weight_decay and not self.dampening
                and self.clipnorm is None)

    def _new_state(self, param):
        # The stored velocity is the true one times `velocity_scale` (1.0, or the last lr; see below).
        return {"velocity": xp.zeros_like(param), "velocity_scale": 1.0} if self.momentum else {}

    def _step_prescaled(self, params, grads, grad_scale):
        """Plain SGD from gradients already multiplied by lr: two array passes fewer per step.

        With scaled gradients g' = lr g, the update p -= lr v needs no multiply if the
        velocity is stored as u = lr v:  u_t = mu (lr_t / lr_t-1) u_t-1 + g'_t,  p -= u_t.
        Per step that is three array operations (u *= c, u += g', p -= u) instead of four,
        and no scratch array: the optimizer is memory-bound, so this is most of its cost.
        """
        if not (grad_scale == self.lr and self._folds_lr()):
            return False
        for param, grad, state in zip(params, grads, self.state):
            if self.momentum:
                grad = self._scaled_velocity(grad, state)
            param -= grad
        return True

    def _scaled_velocity(self, scaled_grad, state):
        velocity, lr = state["velocity"], self.lr
        if self.iterations == 1:
            velocity[...] = scaled_grad
        else:
            previous = state["velocity_scale"]
            decay = self.momentum if lr == previous else self.momentum * lr / previous
            velocity *= velocity.dtype.type(decay)
            velocity += scaled_grad
        state["velocity_scale"] = lr
        return velocity

    def _update(self, param, grad, state, scratch):
        dtype = param.dtype.type
        if self.weight_decay:
            grad += xp.multiply(param, dtype(self.weight_decay), out=scratch)
        direction = grad
        if self.momentum:
            mu = dtype(self.momentum)
            velocity = state["velocity"]
            if state["velocity_scale"] != 1.0:  # stored as lr * v by _step_prescaled
                velocity *= dtype(1.0 / state["velocity_scale"])
                state["velocity_scale"] = 1.0
            if self.iterations == 1:  # torch starts the buffer at the first gradient, undamped
                velocity[...] = grad
            else:
                velocity *= mu
                velocity += xp.multiply(grad, dtype(1 - self.dampening), out=scratch) if self.dampening else grad
            direction = velocity
            if self.nesterov:
                direction = xp.multiply(velocity, mu, out=scratch)
                direction += grad
        param -= xp.multiply(direction, dtype(self.lr), out=scratch)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay, "dampening": self.dampening}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015); `weight_decay` adds wd * p to the gradient (L2)."""

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
    options = dict(spec) if isinstance(spec, dict) else {"name": spec}
    name = options.pop("name", None)
    key = name.lower() if isinstance(name, str) else name
    if key not in REGISTRY:
        raise ConfigError(f"unknown optimizer {name!r}: use one of {', '.join(REGISTRY)}")
    try:
        return REGISTRY[key](**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for optimizer {key!r}: {exc}") from None
