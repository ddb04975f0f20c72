"""Optimizer updates over a flat parameter buffer: every rule in one pass over memory.

The rules are PyTorch's (torch.optim), written per element; p, g and every state
buffer are 1-D arrays of the same length, updated in place (g too: it may be
overwritten). `first` is True on the optimizer's first step.

    SGD       g += wd p
              v = g on the first step, else mu v + (1 - dampening) g
              p -= lr (g + mu v)   with Nesterov,   lr v with momentum,   lr g without
    Adam      g += wd p  (L2; AdamW instead decays p *= 1 - lr wd before the update)
              m = b1 m + (1 - b1) g;   s = b2 s + (1 - b2) g^2
              p -= step m / (sqrt(s) / root2 + eps)      step = lr / (1 - b1^t), root2 = sqrt(1 - b2^t)
    RMSprop   g += wd p;   s = a s + (1 - a) g^2;   c = a c + (1 - a) g  (centered only)
              d = g / (sqrt(s - c^2 if centered else s) + eps)
              p -= lr d,   or with momentum: u = mu u + d; p -= lr u

NumPy needs three to eight passes for each of these; the fused loops need one.
"""

from __future__ import annotations

import math

import numpy as np


def sgd(p, g, v, lr: float, momentum: float, dampening: float, nesterov: bool, wd: float, first: bool) -> None:
    dtype = p.dtype.type
    if wd:
        g += dtype(wd) * p
    if momentum:
        if first:
            v[...] = g
        else:
            v *= dtype(momentum)
            v += dtype(1.0 - dampening) * g if dampening else g
        direction = g + dtype(momentum) * v if nesterov else v
    else:
        direction = g
    p -= dtype(lr) * direction


def sgd_fused(p, g, v, lr, momentum, dampening, nesterov, wd, first):
    # Constants in p's dtype and no branch inside a loop, so each loop vectorises.
    dtype = p.dtype.type
    lr, mu, wd, keep = dtype(lr), dtype(momentum), dtype(wd), dtype(1.0 - dampening)
    n = p.size
    if wd:
        for i in range(n):
            g[i] += wd * p[i]
    if not momentum:
        for i in range(n):
            p[i] -= lr * g[i]
    elif first and nesterov:
        for i in range(n):
            v[i] = g[i]
            p[i] -= lr * (g[i] + mu * g[i])
    elif first:
        for i in range(n):
            v[i] = g[i]
            p[i] -= lr * g[i]
    elif nesterov:
        for i in range(n):
            velocity = mu * v[i] + g[i]
            v[i] = velocity
            p[i] -= lr * (g[i] + mu * velocity)
    else:
        for i in range(n):
            velocity = mu * v[i] + keep * g[i]
            v[i] = velocity
            p[i] -= lr * velocity


def sgd_outer(p, x, grad, v, lr: float, momentum: float, dampening: float, nesterov: bool, wd: float,
              first: bool) -> None:
    """SGD on a weight matrix p (in, out) whose gradient is the rank-1 x.T @ grad (x (1, in), grad (1, out):
    one sample's), with velocity v (in, out), or an empty (0, out) array without momentum: `sgd` on the
    formed gradient."""
    formed = x.reshape(-1, 1) * grad
    sgd(p.reshape(-1), formed.reshape(-1), v.reshape(-1), lr, momentum, dampening, nesterov, wd, first)


def sgd_outer_fused(p, x, grad, v, lr, momentum, dampening, nesterov, wd, first):  # noqa: C901 (a loop per rule)
    # Each gradient element x[i] * grad[j] is made where it is used and never stored: the update reads and
    # writes p and v once, where forming the gradient first writes and reads it once more (per-sample SGD).
    dtype = p.dtype.type
    lr, mu, wd, keep = dtype(lr), dtype(momentum), dtype(wd), dtype(1.0 - dampening)
    inputs, outputs = p.shape
    g = grad[0]
    for i in range(inputs):
        xi, row = x[0, i], p[i]
        if not momentum:
            for j in range(outputs):
                row[j] -= lr * (xi * g[j] + wd * row[j])
            continue
        velocity = v[i]
        if first and nesterov:
            for j in range(outputs):
                gradient = xi * g[j] + wd * row[j]
                velocity[j] = gradient
                row[j] -= lr * (gradient + mu * gradient)
        elif first:
            for j in range(outputs):
                gradient = xi * g[j] + wd * row[j]
                velocity[j] = gradient
                row[j] -= lr * gradient
        elif nesterov:
            for j in range(outputs):
                gradient = xi * g[j] + wd * row[j]
                moved = mu * velocity[j] + gradient
                velocity[j] = moved
                row[j] -= lr * (gradient + mu * moved)
        else:
            for j in range(outputs):
                gradient = xi * g[j] + wd * row[j]
                moved = mu * velocity[j] + keep * gradient
                velocity[j] = moved
                row[j] -= lr * moved


def adam(p, g, m, s, lr: float, beta1: float, beta2: float, eps: float, wd: float, decoupled: bool,
         t: int) -> None:
    dtype = p.dtype.type
    if wd and decoupled:
        p *= dtype(1.0 - lr * wd)
    elif wd:
        g += dtype(wd) * p
    m *= dtype(beta1)
    m += dtype(1.0 - beta1) * g
    s *= dtype(beta2)
    s += dtype(1.0 - beta2) * (g * g)
    denom = np.sqrt(s) / dtype(math.sqrt(1.0 - beta2 ** t)) + dtype(eps)
    p -= dtype(lr / (1.0 - beta1 ** t)) * (m / denom)


def adam_fused(p, g, m, s, lr, beta1, beta2, eps, wd, decoupled, t):
    dtype = p.dtype.type
    step, root2 = dtype(lr / (1.0 - beta1 ** t)), dtype(math.sqrt(1.0 - beta2 ** t))
    decay = dtype(1.0 - lr * wd) if decoupled else dtype(1.0)
    l2 = dtype(0.0) if decoupled else dtype(wd)
    b1, b2, c1, c2, eps = dtype(beta1), dtype(beta2), dtype(1.0 - beta1), dtype(1.0 - beta2), dtype(eps)
    for i in range(p.size):
        grad = g[i] + l2 * p[i]
        mean = b1 * m[i] + c1 * grad
        square = b2 * s[i] + c2 * (grad * grad)
        m[i] = mean
        s[i] = square
        p[i] = p[i] * decay - step * (mean / (math.sqrt(square) / root2 + eps))


def rmsprop(p, g, s, c, u, lr: float, alpha: float, eps: float, momentum: float, centered: bool,
            wd: float) -> None:
    dtype = p.dtype.type
    if wd:
        g += dtype(wd) * p
    s *= dtype(alpha)
    s += dtype(1.0 - alpha) * g * g
    if centered:
        c *= dtype(alpha)
        c += dtype(1.0 - alpha) * g
        denom = np.sqrt(s - c * c) + dtype(eps)
    else:
        denom = np.sqrt(s) + dtype(eps)
    if momentum:
        u *= dtype(momentum)
        u += g / denom
        p -= dtype(lr) * u
    else:
        p -= dtype(lr) * (g / denom)


def rmsprop_fused(p, g, s, c, u, lr, alpha, eps, momentum, centered, wd):
    dtype = p.dtype.type
    lr, a, keep, eps, mu, wd = dtype(lr), dtype(alpha), dtype(1.0 - alpha), dtype(eps), dtype(momentum), dtype(wd)
    for i in range(p.size):
        grad = g[i] + wd * p[i]
        square = a * s[i] + keep * grad * grad
        s[i] = square
        if centered:
            mean = a * c[i] + keep * grad
            c[i] = mean
            square = square - mean * mean
        direction = grad / (math.sqrt(square) + eps)
        if momentum:
            direction = mu * u[i] + direction
            u[i] = direction
        p[i] -= lr * direction


KERNELS = {"sgd": (sgd, sgd_fused), "sgd_outer": (sgd_outer, sgd_outer_fused), "adam": (adam, adam_fused),
           "rmsprop": (rmsprop, rmsprop_fused)}

# CUDA C++, one thread per parameter (`backend/cuda/kernels.py` turns the rules' options into these arguments)
CUDA = {
    "sgd_plain": ("T g, T lr, T wd", "T p", "p -= lr * (g + wd * p);"),
    "sgd": ("T g, T lr, T mu, T keep, T wd, bool nesterov, bool first", "T p, T v", """
        T grad = g + wd * p;
        T vel = first ? grad : mu * v + keep * grad;
        v = vel;
        p -= lr * (nesterov ? grad + mu * vel : vel);
    """),
    "sgd_outer": ("raw T x, raw T g, int64 outputs, T lr, T mu, T keep, T wd, bool nesterov, bool first, "
                  "bool with_momentum", "T p, raw T v", """
        T grad = x[i / outputs] * g[i % outputs] + wd * p;
        if (!with_momentum) { p -= lr * grad; }
        else {
            T vel = first ? grad : mu * v[i] + keep * grad;
            v[i] = vel;
            p -= lr * (nesterov ? grad + mu * vel : vel);
        }
    """),
    "adam": ("T g, T step, T root2, T b1, T b2, T c1, T c2, T eps, T decay, T l2", "T p, T m, T s", """
        T grad = g + l2 * p;
        T mean = b1 * m + c1 * grad;
        T square = b2 * s + c2 * (grad * grad);
        m = mean;
        s = square;
        p = p * decay - step * (mean / (sqrt(square) / root2 + eps));
    """),
    "rmsprop": ("T g, T lr, T a, T keep, T eps, T mu, T wd, bool centered, bool with_momentum",
                "T p, T s, T c, T u", """
        T grad = g + wd * p;
        T square = a * s + keep * grad * grad;
        s = square;
        if (centered) { T mean = a * c + keep * grad; c = mean; square -= mean * mean; }
        T direction = grad / (sqrt(square) + eps);
        if (with_momentum) { direction = mu * u + direction; u = direction; }
        p -= lr * direction;
    """),
}
