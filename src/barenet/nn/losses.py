"""Losses: a value for a batch and its gradient with respect to the network's output.

A loss is a small object, like Nielsen's costs: `forward(outputs, targets) -> float`
is the cost function and `backward() -> dL/d(outputs)` its delta, for the batch of
the last forward (which is why `backward` takes no arguments: the forward kept what
it needs). `targets` are class ids, shape (batch,), or
dense targets (one-hot or probabilities), shape (batch, classes).

Reduction "mean" (the default) averages over the batch; for the element-wise
losses (MSE, binary cross-entropy) it also averages over the output units, as
PyTorch and Keras do. Reduction "sum" sums over everything, which is what
notebooks that add up per-sample gradients are doing.

A loss computes through its `backend` (the model's, given by `build` when the model is
compiled; the CPU's until then): `backend.xp` (NumPy, or CuPy on a GPU) and `backend.kernels`.
`forward` returns a Python float on the CPU; on a device it may return a 0-d device array
instead (reading it would wait for the device), which `float()` turns into the number.

`fuses` names the output activation a loss applies to the logits itself
("softmax", "sigmoid"), or None for losses that take the network's finished
outputs (probabilities or values).
"""

from __future__ import annotations

from ..backend import Backend, get_backend
from ..errors import ConfigError
from ..registry import build, config_repr
from .functional import one_hot, sigmoid

REDUCTIONS = ("mean", "sum")


class Loss:
    name = "loss"
    fuses: str | None = None

    def __init__(self, reduction: str = "mean"):
        if reduction not in REDUCTIONS:
            raise ConfigError(f"unknown reduction {reduction!r}: use 'mean' or 'sum'")
        self.reduction = reduction
        self.backend: Backend = get_backend("cpu")

    def build(self, backend: Backend) -> None:
        """Compute on `backend` from now on (`Sequential.compile` hands over the model's)."""
        self.backend = backend

    def __call__(self, outputs, targets) -> float:
        return self.forward(outputs, targets)

    def forward(self, outputs, targets) -> float:
        """The loss of a batch: outputs (batch, units), targets ids (batch,) or rows (batch, units)."""
        raise NotImplementedError

    def backward(self):
        """dL/d(outputs) (batch, units) for the batch of the last forward."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    def __repr__(self) -> str:
        return config_repr(self, self.get_config())

    def _dense(self, targets, outputs):
        if targets.ndim == 1:
            return one_hot(targets, outputs.shape[1], outputs.dtype, self.backend.xp)
        return targets.astype(outputs.dtype, copy=False)

    def _scale(self, outputs, per_element: bool) -> float:
        """Divisor that turns a sum into the requested reduction."""
        if self.reduction == "sum":
            return 1.0
        return float(outputs.size if per_element else outputs.shape[0])


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of softmax(logits), fused through log-sum-exp.

        loss = -mean_i log softmax(z_i)[y_i]
        dL/dz = (softmax(z) - onehot(y)) / batch

    Never overflows, never takes log(0). `label_smoothing` mixes the targets
    with the uniform distribution, as PyTorch's CrossEntropyLoss does.
    """

    name = "softmax_cross_entropy"
    fuses = "softmax"

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction)
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

    def forward(self, outputs, targets):
        self._divisor = self._scale(outputs, per_element=False)
        self._targets = targets
        if targets.ndim == 1 and self.label_smoothing == 0.0:
            # The common case in one kernel pass: loss and gradient (`kernels.losses`).
            self._grad = self._buffer(outputs)
            return self.backend.kernels.softmax_xent(outputs, targets, self._divisor, self._grad) / self._divisor
        xp = self.backend.xp
        maxes = outputs.max(axis=1, keepdims=True)
        log_probs = outputs - maxes
        log_probs -= xp.log(xp.exp(log_probs).sum(axis=1, keepdims=True))
        dense = self._smoothed(targets, outputs)
        self._grad = xp.exp(log_probs)
        self._grad -= dense
        self._grad *= self._grad.dtype.type(1.0 / self._divisor)
        return -self.backend.scalar((dense * log_probs).sum()) / self._divisor

    def _buffer(self, outputs):
        """The gradient's array, reused from step to step while the batch shape stays."""
        grad = getattr(self, "_grad", None)
        if grad is None or grad.shape != outputs.shape or grad.dtype != outputs.dtype:
            grad = self.backend.xp.empty_like(outputs)
        return grad

    def _smoothed(self, targets, outputs):
        dense = self._dense(targets, outputs)
        if self.label_smoothing:
            eps = self.label_smoothing
            dense = dense * (1.0 - eps) + eps / outputs.shape[1]
        return dense

    def backward(self):
        """(softmax(z) - targets) / divisor (batch, classes), computed by the forward."""
        return self._grad


class ClippedProbabilityLoss(Loss):
    """Base for losses of probabilities the network produced: clipped to [eps, 1 - eps] so that
    log(0) never happens; the clip has zero derivative where it acts."""

    def __init__(self, reduction: str = "mean", eps: float = 1e-7):
        super().__init__(reduction)
        self.eps = float(eps)

    def _clip(self, outputs, targets, per_element: bool):
        """(clipped outputs, dense targets), both (batch, units); saved for backward."""
        clipped = self.backend.xp.clip(outputs, self.eps, 1.0 - self.eps)
        dense = self._dense(targets, outputs)
        self._saved = (outputs, clipped, dense)
        self._divisor = self._scale(outputs, per_element=per_element)
        return clipped, dense


class CategoricalCrossEntropy(ClippedProbabilityLoss):
    """Cross-entropy of probabilities the network already produced (a Softmax layer).

    Probabilities are clipped to [eps, 1 - eps] so log(0) never happens (torch's
    NLLLoss(log(p)) clips nothing; eps=0 matches it). Prefer
    `softmax_cross_entropy` on logits: it is exact and cheaper.
    """

    name = "categorical_cross_entropy"

    def forward(self, outputs, targets):
        clipped, dense = self._clip(outputs, targets, per_element=False)
        return -self.backend.scalar((dense * self.backend.xp.log(clipped)).sum()) / self._divisor

    def backward(self):
        outputs, clipped, dense = self._saved
        grad = -dense / clipped
        grad *= clipped == outputs  # clipping has zero derivative where it acts
        return grad / grad.dtype.type(self._divisor)


class MeanSquaredError(Loss):
    """mean((outputs - targets)^2) over batch and output units; class ids become one-hot."""

    name = "mse"

    def forward(self, outputs, targets):
        self._diff = outputs - self._dense(targets, outputs)
        self._divisor = self._scale(outputs, per_element=True)
        return self.backend.scalar((self._diff * self._diff).sum()) / self._divisor

    def backward(self):
        return self._diff * self._diff.dtype.type(2.0 / self._divisor)


class BinaryCrossEntropy(ClippedProbabilityLoss):
    """Binary cross-entropy of probabilities in (0, 1), clipped to [eps, 1 - eps].

    torch's BCELoss clips differently (it clamps log(p) at -100); the two agree
    for probabilities in [eps, 1 - eps]. eps=0 removes barenet's clip.
    """

    name = "binary_cross_entropy"

    def forward(self, outputs, targets):
        clipped, dense = self._clip(outputs, targets, per_element=True)
        xp = self.backend.xp
        total = -(dense * xp.log(clipped) + (1.0 - dense) * xp.log1p(-clipped)).sum()
        return self.backend.scalar(total) / self._divisor

    def backward(self):
        outputs, clipped, dense = self._saved
        grad = (clipped - dense) / (clipped * (1.0 - clipped))
        grad *= clipped == outputs
        return grad / grad.dtype.type(self._divisor)


class SigmoidBinaryCrossEntropy(Loss):
    """Binary cross-entropy of sigmoid(logits), fused and stable for any logit:

        loss = mean(max(z, 0) - z * t + log(1 + exp(-|z|)))
        dL/dz = (sigmoid(z) - t) / (batch * units)

    With one-hot targets this is the "output error a - y" of sigmoid networks.
    """

    name = "sigmoid_binary_cross_entropy"
    fuses = "sigmoid"

    def forward(self, outputs, targets):
        dense = self._dense(targets, outputs)
        self._saved = (outputs, dense)
        self._divisor = self._scale(outputs, per_element=True)
        xp = self.backend.xp
        total = (xp.maximum(outputs, 0) - outputs * dense + xp.log1p(xp.exp(-xp.abs(outputs)))).sum()
        return self.backend.scalar(total) / self._divisor

    def backward(self):
        outputs, dense = self._saved
        grad = sigmoid(outputs, self.backend.xp) - dense
        return grad / grad.dtype.type(self._divisor)


REGISTRY = {cls.name: cls for cls in (SoftmaxCrossEntropy, CategoricalCrossEntropy, MeanSquaredError,
                                      BinaryCrossEntropy, SigmoidBinaryCrossEntropy)}
ALIASES = {
    "cross_entropy": "softmax_cross_entropy",
    "crossentropy": "softmax_cross_entropy",
    "mean_squared_error": "mse",
    "bce": "binary_cross_entropy",
    "bce_with_logits": "sigmoid_binary_cross_entropy",
}


def get(spec) -> Loss:
    """A loss from a name, a `{"name": ..., **options}` dict, or a Loss instance."""
    if isinstance(spec, Loss):
        return spec
    return build(spec, REGISTRY, "loss", ALIASES)
