"""Models: `Sequential` (any list of layers) and `MLP` (built from a list of sizes).

    model = MLP([784, 128, 64, 10], activation="relu", seed=0)
    model.compile(loss="softmax_cross_entropy", optimizer=SGD(lr=0.1, momentum=0.9))
    history = model.fit(x, y, epochs=10, batch_size=128, validation_data=(xv, yv))
    model.evaluate(xt, yt)      # {"loss": ..., "accuracy": ...}
    model.predict(xt)           # class ids (N,);  model.predict_proba(xt) -> (N, classes)

The last Dense layer emits logits. The model's `output` activation ("softmax",
"sigmoid" or "linear") turns them into probabilities in `predict_proba`; while
training it is fused into the loss when the loss can do that exactly
(softmax_cross_entropy, sigmoid_binary_cross_entropy) and applied as a layer
otherwise (e.g. MSE on softmax outputs).

Inputs: uint8 arrays are pixels and are scaled to [0, 1] batch by batch (so a
60k-image set never sits in memory as floats); images (N, 28, 28) are
flattened. Float inputs are used as given, with a warning when they look like
unscaled 0-255 pixels.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Sequence

import numpy as np

from . import activations, losses, optimizers
from . import layers as layers_mod
from .backend import resolve_dtype, to_numpy, xp
from .callbacks import Callback, History
from .errors import ConfigError, InputError, LabelError, ShapeError, TrainingDiverged, warn

OUTPUTS = ("softmax", "sigmoid", "linear")
PIXEL_SCALE = 1.0 / 255.0
EVAL_BATCH = 2048
ALIGN = 16  # parameters start at multiples of 16 elements (64 bytes) inside the flat buffer
# Below this many FLOPs per training step, a second BLAS thread costs more in synchronisation
# than it gains (measured on 2-core machines: batch 1 and 32 on [784,128,64,10]); see docs/PERFORMANCE.md.
SINGLE_THREAD_BELOW_FLOPS = 4e7


class Sequential:
    """A stack of layers trained end to end.

    layers  list of Layer objects; parameters are created here from `seed`
    output  "softmax", "sigmoid", "linear", or None to take it from the loss at compile
    seed    one numpy Generator seeded with this drives initialisation, shuffling and dropout
    dtype   "float32" (default) or "float64"
    """

    def __init__(self, layers: Sequence, output: str | None = None, seed: int = 0, dtype="float32"):
        if output is not None and output not in OUTPUTS:
            raise ConfigError(f"unknown output {output!r}: use one of {', '.join(OUTPUTS)}")
        if not layers:
            raise ConfigError("a model needs at least one layer")
        self.layers = list(layers)
        self.output = output
        self.seed = seed
        self.dtype = resolve_dtype(dtype)
        self.rng = np.random.default_rng(seed)
        for layer in self.layers:
            layer.build(self.rng, self.dtype)
        self.in_features, self.out_features = self._check_chain()
        self.flat_params, self.flat_grads = self._pack_parameters()
        self.loss = None
        self.optimizer = None
        self.stop_training = False
        self.history: History | None = None
        self.extra: dict = {}  # metadata read from a model file (see serialization.load)

    # ----- structure -------------------------------------------------------
    def _check_chain(self) -> tuple[int | None, int | None]:
        dense = [layer for layer in self.layers if isinstance(layer, layers_mod.Dense)]
        if not dense:
            return None, None
        features = dense[0].in_features
        for layer in self.layers:
            features = layer.output_features(features)
        return dense[0].in_features, features

    def _pack_parameters(self):
        """Move every parameter and gradient into one contiguous array each; layers keep views.

        The optimizer then updates the whole network with a few array operations per
        step instead of a few per parameter, which matters most for per-sample SGD.
        """
        entries = [(layer, key) for layer in self.layers for key in layer.params]
        offsets, total = [], 0
        for layer, key in entries:
            offsets.append(total)
            total += -(-layer.params[key].size // ALIGN) * ALIGN
        flat_params = xp.zeros(total, dtype=self.dtype)
        flat_grads = xp.zeros(total, dtype=self.dtype)
        for (layer, key), start in zip(entries, offsets):
            shape, size = layer.params[key].shape, layer.params[key].size
            view = flat_params[start:start + size].reshape(shape)
            view[...] = layer.params[key]
            layer.params[key] = view
            layer.grads[key] = flat_grads[start:start + size].reshape(shape)
        return flat_params, flat_grads

    def parameters(self) -> tuple[list, list]:
        """Parallel lists of parameter arrays and their gradient arrays (what optimizers see)."""
        params, grads = [], []
        for layer in self.layers:
            for key in layer.params:
                params.append(layer.params[key])
                grads.append(layer.grads[key])
        return params, grads

    def get_weights(self) -> list:
        """Copies of every parameter array, in layer order (W before b)."""
        return [xp.array(p, copy=True) for p in self.parameters()[0]]

    def set_weights(self, weights: Sequence) -> None:
        params = self.parameters()[0]
        if len(weights) != len(params):
            raise ShapeError(f"set_weights got {len(weights)} arrays for {len(params)} parameters")
        for param, value in zip(params, weights):
            if tuple(value.shape) != tuple(param.shape):
                raise ShapeError(f"set_weights: shape {tuple(value.shape)} does not fit parameter {param.shape}")
            param[...] = value

    def count_params(self) -> int:
        return int(sum(p.size for p in self.parameters()[0]))

    def summary(self) -> str:
        """A table of layers, output sizes and parameter counts."""
        rows, features = [], self.in_features
        for i, layer in enumerate(self.layers):
            if features is not None:
                features = layer.output_features(features)
            count = sum(p.size for p in layer.params.values())
            rows.append(f"{i:>3}  {layer!r:<44} {features if features is not None else '?':>7} {count:>10,}")
        header = f"{'':>3}  {'layer':<44} {'outputs':>7} {'params':>10}"
        footer = f"output activation: {self.output or 'set by the loss'}    parameters: {self.count_params():,}"
        return "\n".join([header, *rows, footer])

    def get_config(self) -> dict:
        return {"layers": [layer.get_config() for layer in self.layers], "output": self.output,
                "seed": self.seed, "dtype": self.dtype.name}

    # ----- compile ---------------------------------------------------------
    def compile(self, loss=None, optimizer="sgd") -> Sequential:
        """Choose the loss (default: the one that fits `output`) and the optimizer."""
        if loss is None:
            loss = {"sigmoid": "sigmoid_binary_cross_entropy", "linear": "mse"}.get(self.output,
                                                                                    "softmax_cross_entropy")
        self.loss = losses.get(loss)
        self.optimizer = optimizers.get(optimizer)
        fused = self.loss.fuses
        if fused is not None:
            if self.output is None:
                self.output = fused
            elif self.output != fused:
                raise ConfigError(f"loss {self.loss.name} applies {fused} to the logits but the model's output "
                                  f"is {self.output}: use output={fused!r} or a loss for {self.output} outputs")
            last = self.layers[-1]
            if isinstance(last, (layers_mod.Softmax, layers_mod.Sigmoid)):
                warn(f"the network already ends in a {type(last).__name__} layer and {self.loss.name} applies "
                     f"{fused} again (the double-{fused} mistake): remove that layer, or use a loss that "
                     f"takes probabilities (categorical_cross_entropy, binary_cross_entropy)")
        elif self.output is None:
            self.output = "linear"
        self._output_layer = None
        if fused is None and self.output != "linear":
            self._output_layer = layers_mod.activation(self.output)
        # Training runs through `_chain`: the layers, plus the output activation
        # when the loss does not apply it itself.
        self._chain = self.layers + ([self._output_layer] if self._output_layer else [])
        self._threshold = 0.0 if fused == "sigmoid" else 0.5  # single-output accuracy: logits vs probs
        for layer in self._chain:
            layer.propagate_grad = True
        # Backward stops at the first layer with parameters: nothing below needs a gradient.
        self._grad_stop = next((i for i, layer in enumerate(self._chain) if layer.params), 0)
        self._chain[self._grad_stop].propagate_grad = False
        self._slots = ([self.flat_params], [self.flat_grads])  # what the optimizer updates
        self._constrained = [layer for layer in self.layers if getattr(layer, "max_norm", None) is not None]
        return self

    def _require_compiled(self) -> None:
        if self.loss is None:
            raise ConfigError("the model is not compiled: call model.compile(loss=..., optimizer=...) first")

    # ----- inputs ----------------------------------------------------------
    def _prepare_x(self, x, name: str = "x"):
        """Validate and flatten inputs to (N, features): uint8 pixels as they are, the rest as floats."""
        x = np.asarray(x)
        if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise InputError(f"{name} must be a numeric array, got dtype {x.dtype}")
        if x.ndim == 0 or x.shape[0] == 0:
            raise InputError(f"{name} is empty: give at least one sample")
        if x.ndim == 1:
            raise ShapeError(f"{name} has shape {x.shape}: give one sample per row, shape (batch, features)"
                             f" (use x.reshape(1, -1) for a single sample)")
        if x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        if self.in_features is not None and x.shape[1] != self.in_features:
            raise ShapeError(f"{name} has {x.shape[1]} features per sample (shape {x.shape}) but the model's "
                             f"first layer takes {self.in_features}")
        if x.dtype == np.uint8:
            return np.ascontiguousarray(x)
        if np.issubdtype(x.dtype, np.floating):
            finite = np.isfinite(x)
            if not finite.all():
                row, col = np.argwhere(~finite)[0]
                raise InputError(f"{name} contains {x[row, col]} at row {row}, column {col}: remove or impute "
                                 f"non-finite values before training")
        peak = float(x.max())
        if peak > 10.0 and float(x.min()) >= 0.0:
            warn(f"{name} has values up to {peak:g}: these look like unscaled 0-255 pixels; divide by 255 "
                 f"(or pass the uint8 images, which barenet scales itself)", stacklevel=4)
        return np.ascontiguousarray(x, dtype=self.dtype)

    def _prepare_y(self, y, n: int, name: str = "y"):
        """Validate labels: class ids (N,) in [0, classes) or dense targets (N, classes)."""
        y = np.asarray(y)
        classes = self.out_features
        if y.shape[0] != n:
            raise ShapeError(f"{name} has {y.shape[0]} labels for {n} samples: give one label per sample")
        if y.ndim == 2:
            if classes is not None and y.shape[1] != classes:
                raise ShapeError(f"{name} has {y.shape[1]} columns but the model has {classes} outputs")
            if not np.isfinite(y).all():
                raise InputError(f"{name} contains NaN or infinite targets")
            return np.ascontiguousarray(y, dtype=self.dtype)
        if y.ndim != 1:
            raise ShapeError(f"{name} must be class ids (N,) or targets (N, classes), got shape {y.shape}")
        if classes == 1:  # one sigmoid/linear output: binary 0/1 or regression targets
            return np.ascontiguousarray(y.reshape(-1, 1), dtype=self.dtype)
        if not np.issubdtype(y.dtype, np.integer):
            if not (np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and (y == np.round(y)).all()):
                raise LabelError(f"{name} must hold integer class ids, got dtype {y.dtype} with non-integer values")
        labels = y.astype(np.int64)
        bad = np.flatnonzero((labels < 0) | (labels >= classes)) if classes is not None else []
        if len(bad):
            i = int(bad[0])
            hint = " (labels 1..N? subtract 1)" if labels.min() >= 1 and labels.max() == classes else ""
            raise LabelError(f"{name} must be class ids in [0, {classes}): found {labels[i]} at index {i}{hint}")
        return labels

    def _batch_x(self, x, index):
        """One batch as a float array (uint8 pixels converted and scaled to [0, 1] here)."""
        batch = x[index]
        if batch.dtype != np.uint8:
            return xp.asarray(batch)
        floats = xp.asarray(batch).astype(self.dtype)  # a cast, then a multiply: together 40% faster
        floats *= self.dtype.type(PIXEL_SCALE)           # than one mixed-type multiply (it buffers)
        return floats

    # ----- forward / backward ----------------------------------------------
    def forward(self, x, training: bool = False):
        """Logits for a prepared float batch (batch, features)."""
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def _outputs_for_loss(self, logits, training: bool):
        if self._output_layer is None:
            return logits
        return self._output_layer.forward(logits, training)

    def compute_gradients(self, x_batch, y_batch, grad_scale: float = 1.0) -> tuple[float, object]:
        """Forward and backward pass in training mode: fills every layer's `grads` with the
        gradients times `grad_scale`. Returns (loss, outputs the loss saw)."""
        outputs = x_batch
        for layer in self._chain:
            outputs = layer.forward(outputs, True)
        loss = self.loss.forward(outputs, y_batch)
        grad = self.loss.backward()
        if grad_scale != 1.0:  # backward is linear in grad: every parameter gradient scales with it
            grad = grad * grad.dtype.type(grad_scale)
        for layer in reversed(self._chain[self._grad_stop:]):
            grad = layer.backward(grad)
        return loss, outputs

    def train_step(self, x_batch, y_batch) -> tuple[float, object]:
        """One forward pass, backward pass and optimizer update. Returns (loss, outputs).
        Afterwards `grads` may hold lr x gradients (plain SGD asks for them; see SGD)."""
        grad_scale = self.optimizer.begin_step()
        loss, outputs = self.compute_gradients(x_batch, y_batch, grad_scale)
        self.optimizer.step(*self._slots, grad_scale=grad_scale)
        for layer in self._constrained:
            layer.apply_constraints()
        return loss, outputs

    # ----- training --------------------------------------------------------
    def fit(self, x, y, epochs: int = 1, batch_size: int | None = 32, validation_data=None,
            validation_split: float = 0.0, shuffle: bool = True, callbacks: Iterable[Callback] = (),
            initial_epoch: int = 0) -> History:
        """Train for `epochs` passes over (x, y).

        batch_size  1 = per-sample SGD, None = full-batch gradient descent
        validation_data (x_val, y_val), or validation_split to hold out the last fraction of x
        initial_epoch  resume at this epoch (epochs counts from 0, as in Keras); the history continues
        Returns a History (per-epoch loss, accuracy, val_loss, val_accuracy, lr, seconds).
        Raises TrainingDiverged (weights restored to the last good epoch) if the loss turns NaN/inf.
        """
        self._require_compiled()
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ConfigError(f"epochs must be a non-negative integer, got {epochs!r}")
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        if validation_data is not None and validation_split:
            raise ConfigError("give validation_data or validation_split, not both")
        if validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ConfigError(f"validation_split must be in (0, 1), got {validation_split!r}")
            cut = len(x) - int(round(len(x) * validation_split))
            if cut < 1 or cut == len(x):
                raise ConfigError(f"validation_split={validation_split} leaves no data on one side")
            validation_data, x, y = (x[cut:], y[cut:]), x[:cut], y[:cut]
        elif validation_data is not None:
            validation_data = self._validated(*validation_data, "validation x", "validation y")
        n = len(x)
        if batch_size is None:
            batch_size = n
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}")

        history = self.history if (initial_epoch and self.history is not None) else History()
        self.history = history
        callbacks = [history, *callbacks]
        for callback in callbacks:
            callback.set_model(self)
        self.stop_training = False
        for callback in callbacks:
            callback.on_train_begin({"samples": n, "batch_size": int(batch_size), "epochs": epochs,
                                     "steps": math.ceil(n / batch_size), "validation": validation_data is not None})
        with _blas_threads(6 * batch_size * self.count_params()):
            for epoch in range(int(initial_epoch), epochs):
                for callback in callbacks:
                    callback.on_epoch_begin(epoch)
                logs = self._train_epoch(x, y, epoch, batch_size, shuffle, callbacks)
                if validation_data is not None:
                    val = self._evaluate_prepared(*validation_data)
                    logs.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
                logs.update(lr=logs.pop("lr"), seconds=logs.pop("seconds"))
                self.optimizer.schedule.observe(logs)
                for callback in callbacks:
                    callback.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        for callback in callbacks:
            callback.on_train_end({})
        return history

    def _train_epoch(self, x, y, epoch: int, batch_size: int, shuffle: bool, callbacks) -> dict:
        """One pass over (x, y) in batches; returns the epoch's mean loss, accuracy, lr and seconds.
        A NaN/inf loss restores the weights the epoch started from and raises TrainingDiverged."""
        started, n = time.perf_counter(), len(x)
        lr = self.optimizer.set_lr(epoch)
        start_weights = xp.array(self.flat_params, copy=True)
        batch_callbacks = [c for c in callbacks if c.wants_batches]
        order = self.rng.permutation(n) if shuffle else None
        total_loss, correct = 0.0, 0
        for step, begin in enumerate(range(0, n, batch_size)):
            index = order[begin:begin + batch_size] if shuffle else slice(begin, begin + batch_size)
            y_batch = y[index]
            loss, outputs = self.train_step(self._batch_x(x, index), y_batch)
            if not math.isfinite(loss):
                self.flat_params[...] = start_weights
                raise TrainingDiverged(
                    f"the loss became {loss} in epoch {epoch + 1} (step {step + 1}) at learning rate "
                    f"{self.optimizer.lr:g}: lower the learning rate (weights restored to the end of "
                    f"epoch {epoch})", self.history)
            total_loss += loss * len(y_batch) if self.loss.reduction == "mean" else loss
            correct += _count_correct(outputs, y_batch, self._threshold)
            for callback in batch_callbacks:
                callback.on_batch_end(step, {"loss": loss, "size": len(y_batch)})
        return {"loss": total_loss / n, "accuracy": correct / n, "lr": lr, "seconds": time.perf_counter() - started}

    def _validated(self, x, y, x_name="x", y_name="y"):
        x = self._prepare_x(x, x_name)
        return x, self._prepare_y(y, len(x), y_name)

    # ----- evaluation and prediction ---------------------------------------
    def _logits_batches(self, x):
        """(start row, logits) for chunks of EVAL_BATCH rows of a prepared x."""
        first = self.layers[0]
        if x.dtype != np.uint8 or not isinstance(first, layers_mod.Dense):
            for begin in range(0, len(x), EVAL_BATCH):
                yield begin, self.forward(self._batch_x(x, slice(begin, begin + EVAL_BATCH)), False)
            return
        # Pixels: (x / 255) @ W = x @ (W / 255). Scaling the weights once instead of every
        # pixel makes the uint8 -> float conversion a plain cast, half the cost of cast-and-scale.
        weights = first.params["W"] * self.dtype.type(PIXEL_SCALE)
        for begin in range(0, len(x), EVAL_BATCH):
            hidden = xp.asarray(x[begin:begin + EVAL_BATCH]).astype(self.dtype) @ weights
            if first.use_bias:
                hidden += first.params["b"]
            for layer in self.layers[1:]:
                hidden = layer.forward(hidden, False)
            yield begin, hidden

    def _evaluate_prepared(self, x, y) -> dict:
        total_loss, correct = 0.0, 0
        for begin, logits in self._logits_batches(x):
            y_batch = y[begin:begin + EVAL_BATCH]
            outputs = self._outputs_for_loss(logits, False)
            loss = self.loss.forward(outputs, y_batch)
            total_loss += loss * len(y_batch) if self.loss.reduction == "mean" else loss
            correct += _count_correct(outputs, y_batch, self._threshold)
        return {"loss": total_loss / len(x), "accuracy": correct / len(x)}

    def evaluate(self, x, y) -> dict:
        """Mean loss and accuracy on (x, y): {"loss": float, "accuracy": float}."""
        self._require_compiled()
        return self._evaluate_prepared(*self._validated(x, y))

    def predict_logits(self, x):
        """Raw outputs of the last layer, (N, outputs), as a NumPy array."""
        x = self._prepare_x(x)
        parts = [to_numpy(logits) for _, logits in self._logits_batches(x)]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def predict_proba(self, x):
        """Probabilities (N, classes): the output activation applied to the logits."""
        logits = self.predict_logits(x)
        if self.output == "softmax":
            return to_numpy(activations.softmax(xp.asarray(logits)))
        if self.output == "sigmoid":
            return to_numpy(activations.sigmoid(xp.asarray(logits)))
        return logits

    def predict(self, x):
        """Class ids (N,): the most probable class (a 0.5 threshold for one sigmoid output)."""
        logits = self.predict_logits(x)
        if logits.shape[1] == 1:
            return (logits[:, 0] > 0).astype(np.int64)
        return logits.argmax(axis=1)

    # ----- files -----------------------------------------------------------
    def save(self, path, include_optimizer: bool = False, extra: dict | None = None) -> None:
        """Write weights (safetensors) and architecture (JSON metadata) atomically to `path`.
        `include_optimizer` keeps the optimizer state (to resume); `extra` is any JSON-able dict."""
        from .serialization import save

        save(self, path, include_optimizer=include_optimizer, extra=extra)


def _blas_threads(step_flops: float):
    """A context that keeps BLAS to one thread for steps too small to gain from a second one."""
    if step_flops >= SINGLE_THREAD_BELOW_FLOPS:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional at import time; a dependency of the package
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _count_correct(outputs, targets, threshold: float = 0.5) -> int:
    """How many rows of `outputs` pick the right class (targets: ids or dense rows).
    A single output counts as class 1 above `threshold` (0 for logits, 0.5 for probabilities)."""
    if outputs.shape[1] == 1:
        return int(((outputs[:, 0] > threshold) == (targets[:, 0] > 0.5)).sum())
    predicted = outputs.argmax(axis=1)
    truth = targets if targets.ndim == 1 else targets.argmax(axis=1)
    return int((predicted == truth).sum())


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
    """

    def __init__(self, sizes: Sequence[int], activation="relu", output: str = "softmax", init="auto",
                 bias_init="zeros", dropout=0.0, input_dropout: float = 0.0, use_bias: bool = True,
                 max_norm: float | None = None, seed: int = 0, dtype="float32"):
        sizes = list(sizes)
        if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                                 for s in sizes):
            raise ConfigError(f"sizes must be a list of at least two positive integers "
                              f"(inputs, ..., outputs), got {sizes!r}")
        hidden = len(sizes) - 2
        activations_ = _per_layer(activation, hidden, "activation")
        dropouts = _per_layer(dropout, hidden, "dropout")
        stack = []
        if input_dropout:
            stack.append(layers_mod.Dropout(input_dropout))
        for i in range(hidden):
            act = activations_[i]
            if act not in layers_mod.ACTIVATIONS or act == "softmax":
                raise ConfigError(f"unknown hidden activation {act!r}: use relu, leaky_relu, sigmoid or tanh")
            stack.append(layers_mod.Dense(sizes[i], sizes[i + 1], init=_auto_init(init, act),
                                          bias_init=bias_init, use_bias=use_bias, max_norm=max_norm))
            stack.append(layers_mod.activation(act))
            if dropouts[i]:
                stack.append(layers_mod.Dropout(dropouts[i]))
        stack.append(layers_mod.Dense(sizes[-2], sizes[-1], init=_auto_init(init, None),
                                      bias_init=bias_init, use_bias=use_bias))
        super().__init__(stack, output=output, seed=seed, dtype=dtype)
        self.sizes = sizes


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
