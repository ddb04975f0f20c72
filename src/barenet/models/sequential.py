"""`Sequential`: a network as a stack of layers, with Keras's compile / fit / evaluate / predict / save.

    model = Sequential([Dense(784, 128), ReLU(), Dense(128, 10)], seed=0)
    model.compile(loss="softmax_cross_entropy", optimizer=SGD(lr=0.1, momentum=0.9))
    history = model.fit(x, y, epochs=10, batch_size=128, validation_data=(xv, yv))
    model.evaluate(xt, yt)      # {"loss": ..., "accuracy": ...}
    model.predict(xt)           # class ids (N,);  model.predict_proba(xt) -> (N, classes)

The model is the network: its layers, one flat buffer holding every parameter (and one
for every gradient), forward and backward passes, prediction and model files. `fit` and
`evaluate` hand the work to a `training.Trainer`.

`device="cuda"` (or "cuda:N") puts the parameters, gradients and every buffer on a GPU
through CuPy (`pip install "barenet[gpu]"`); "cpu" (the default) keeps NumPy. The same
seed draws the same initial weights, shuffles and dropout masks on either (they come
from the host generator). What the model hands back (predictions, `get_weights`) is NumPy.

The last Dense layer emits logits. The model's `output` activation ("softmax",
"sigmoid" or "linear") turns them into probabilities in `predict_proba`; while
training it is fused into the loss when the loss can do that exactly
(softmax_cross_entropy, sigmoid_binary_cross_entropy) and applied as a layer
otherwise (e.g. MSE on softmax outputs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Self

import numpy as np

from ..backend import Backend, get_backend, resolve_dtype
from ..data.transforms import PIXEL_SCALE, to_floats
from ..errors import ConfigError, ShapeError, warn
from ..nn import functional, losses
from ..nn.fusion import fuse
from ..nn.layers import Dense, Layer, activation
from ..optim import optimizers
from ..optim.gradients import OuterProducts
from ..optim.optimizers import Optimizer
from ..training import inputs
from ..training.callbacks import Callback, History, verbosity_callbacks
from ..training.doctor import Doctor, doctor_printer
from ..training.trainer import Trainer
from . import modelfile

OUTPUTS = ("softmax", "sigmoid", "linear")
LOSS_FOR_OUTPUT = {"softmax": "softmax_cross_entropy", "sigmoid": "sigmoid_binary_cross_entropy", "linear": "mse"}
EVAL_BATCH = 2048
ALIGN = 16  # parameters start at multiples of 16 elements (64 bytes) inside the flat buffer


def pack(layer_list: list, dtype, xp=np) -> tuple:
    """Move every parameter and gradient into one contiguous array each; layers keep views.

    The optimizer then updates the whole network with a few array operations per
    step instead of a few per parameter, which matters most for per-sample SGD.
    Returns (flat_params, flat_grads, starts): 1-D arrays of the array module `xp` (the layers' device),
    and where each (layer, key)'s parameter starts in them.
    """
    entries = [(layer, key) for layer in layer_list for key in layer.params]
    offsets, total = [], 0
    for layer, key in entries:
        offsets.append(total)
        total += -(-layer.params[key].size // ALIGN) * ALIGN
    flat_params, flat_grads = xp.zeros(total, dtype=dtype), xp.zeros(total, dtype=dtype)
    starts = {}
    for (layer, key), start in zip(entries, offsets):
        starts[id(layer), key] = start
        shape, size = layer.params[key].shape, layer.params[key].size
        view = flat_params[start:start + size].reshape(shape)
        view[...] = layer.params[key]
        layer.params[key] = view
        layer.grads[key] = flat_grads[start:start + size].reshape(shape)
    return flat_params, flat_grads, starts


def output_activation(output: str | None, loss: losses.Loss, last: Layer) -> str:
    """The model's output activation once `loss` is chosen: the one the loss fuses (which must agree
    with an explicit `output`), or `output` itself, or linear. Warns about a double softmax."""
    fused = loss.fuses
    if fused is None:
        return output or "linear"
    if output not in (None, fused):
        raise ConfigError(f"loss {loss.name} applies {fused} to the logits but the model's output "
                          f"is {output}: use output={fused!r} or a loss for {output} outputs")
    if last.gives_probabilities:
        warn(f"the network already ends in a {type(last).__name__} layer and {loss.name} applies "
             f"{fused} again (the double-{fused} mistake): remove that layer, or use a loss that "
             f"takes probabilities (categorical_cross_entropy, binary_cross_entropy)")
    return fused


class Sequential:
    """A stack of layers trained end to end.

    layers  list of Layer objects; parameters are created here from `seed`
    output  "softmax", "sigmoid", "linear", or None to take it from the loss at compile
    seed    one numpy Generator seeded with this drives initialisation, shuffling and dropout
    dtype   "float32" (default) or "float64"
    device  "cpu" (default), "cuda" or "cuda:N" (CuPy), or a `backend.Backend`
    """

    def __init__(self, layers: Sequence[Layer], output: str | None = None, seed: int = 0, dtype="float32",
                 device: str | Backend = "cpu"):
        if output is not None and output not in OUTPUTS:
            raise ConfigError(f"unknown output {output!r}: use one of {', '.join(OUTPUTS)}")
        if not layers:
            raise ConfigError("a model needs at least one layer")
        self.layers, self.output, self.seed = list(layers), output, seed
        self.dtype = resolve_dtype(dtype)
        self.backend = get_backend(device)
        self.rng = np.random.default_rng(seed)
        with self.backend.activated():
            for layer in self.layers:
                layer.build(self.rng, self.dtype, self.backend)
            self.in_features, self.out_features = self._check_chain()
            self.flat_params, self.flat_grads, starts = pack(self.layers, self.dtype, self.backend.xp)
        self.optimizer_slots = ([self.flat_params], [self.flat_grads])  # what the optimizer updates
        # Dense weights by their place in the flat buffer: their one-sample gradients can stay unformed
        self._weights = [(layer, starts[id(layer), "W"]) for layer in self.layers if isinstance(layer, Dense)]
        self._unformed = False
        self.loss: losses.Loss | None = None
        self.optimizer: Optimizer | None = None
        self.stop_training = False
        self.history: History | None = None
        self.extra: dict = {}  # metadata read from a model file
        self.output_layer: Layer | None = None  # the output activation, when the loss does not apply it
        self._inference: list[Layer] = fuse(self.layers)  # Dense + activation as one layer each
        self._chain: list[Layer] = self._inference
        self._constrained: list[Layer] = []
        self._grad_stop, self.accuracy_threshold = 0, 0.5

    @property
    def device(self) -> str:
        """Where the parameters live: "cpu", "cuda", "cuda:1", ..."""
        return self.backend.name

    # ----- structure ---------------------------------------------------------------
    def _check_chain(self) -> tuple[int | None, int | None]:
        first = next((layer.in_features for layer in self.layers if layer.in_features is not None), None)
        if first is None:
            return None, None
        features = first
        for layer in self.layers:
            features = layer.output_features(features)
        return first, features

    def parameters(self) -> tuple[list, list]:
        """One array per parameter and its gradient, layer by layer (W before b): views into the flat buffers."""
        params = [layer.params[key] for layer in self.layers for key in layer.params]
        return params, [layer.grads[key] for layer in self.layers for key in layer.params]

    def get_weights(self) -> list:
        """Host (NumPy) copies of every parameter array, in layer order (W before b)."""
        return [np.array(self.backend.to_numpy(p), copy=True) for p in self.parameters()[0]]

    def set_weights(self, weights: Sequence) -> None:
        params = self.parameters()[0]
        if len(weights) != len(params):
            raise ShapeError(f"set_weights got {len(weights)} arrays for {len(params)} parameters")
        for param, value in zip(params, weights):
            if tuple(value.shape) != tuple(param.shape):
                raise ShapeError(f"set_weights: shape {tuple(value.shape)} does not fit parameter {param.shape}")
            param[...] = self.backend.asarray(value)

    def random_state(self) -> dict:
        """What the layers that draw while training (Dropout: a key and an offset) need to draw on as they would
        have, by layer index; the model's own generator (`rng`) is saved beside it."""
        return {str(i): layer.random_state() for i, layer in enumerate(self.layers) if hasattr(layer, "random_state")}

    def load_random_state(self, state: dict) -> None:
        """Restore `random_state()`'s output; ConfigError (one line) for a layer that draws no random numbers."""
        for index, layer_state in state.items():
            layer = self.layers[int(index)] if str(index).isdigit() and int(index) < len(self.layers) else None
            load = getattr(layer, "load_random_state", None)
            if load is None:
                raise ConfigError(f"a random state for layer {index}, which draws no random numbers: the state "
                                  f"belongs to another model")
            load(layer_state)

    def count_params(self) -> int:
        return int(sum(p.size for p in self.parameters()[0]))

    def summary(self, print_fn=print) -> None:
        """Print the table of `summary_text()` (Keras's `model.summary()`); `print_fn` receives it."""
        print_fn(self.summary_text())

    def summary_text(self) -> str:
        """A table: one row per layer (its output shape (batch, features) and parameter count), then the
        total, the output activation, and the loss and optimizer once compiled."""
        rows, features = [], self.in_features
        for i, layer in enumerate(self.layers):
            features = layer.output_features(features) if features is not None else None
            shape = f"(batch, {features if features is not None else '?'})"
            rows.append(f"{i:>3}  {layer!r:<44} {shape:<14} {sum(p.size for p in layer.params.values()):>10,}")
        rule = "-" * 75
        total = self.count_params()
        output = self.output or "set by the loss at compile"
        lines = [f"{type(self).__name__}: {len(self.layers)} layers", f"{'#':>3}  {'layer':<44} {'output shape':<14} "
                 f"{'params':>10}", rule, *rows, rule,
                 f"parameters: {total:,} ({total * self.dtype.itemsize / 1024:,.1f} KiB in {self.dtype.name})",
                 f"output activation: {output}"]
        if self.loss is not None:
            lines.append(f"loss: {self.loss!r}    optimizer: {self.optimizer!r}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        """The layers, one per line, then the output activation, parameter count, loss and optimizer."""
        layers = "".join(f"\n  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"{type(self).__name__}({layers}\n  {self._described()}\n)"

    def _described(self) -> str:
        """"output='softmax', 109,386 parameters, SoftmaxCrossEntropy() + SGD(lr=0.1)" (the last part once compiled)."""
        compiled = f", {self.loss!r} + {self.optimizer!r}" if self.loss is not None else ", not compiled"
        return f"output={self.output!r}, {self.count_params():,} parameters{compiled}"

    def get_config(self) -> dict:
        return {"layers": [layer.get_config() for layer in self.layers], "output": self.output,
                "seed": self.seed, "dtype": self.dtype.name}

    # ----- compile -----------------------------------------------------------------
    def compile(self, loss=None, optimizer="sgd") -> Self:
        """Choose the loss (default: the one that fits `output`) and the optimizer."""
        self.loss = chosen = losses.get(loss if loss is not None else LOSS_FOR_OUTPUT.get(self.output or "softmax"))
        self.optimizer = optimizers.get(optimizer)
        chosen.build(self.backend)  # the loss and the optimizer compute where the model's arrays live
        self.optimizer.build(self.backend)
        self.output = output_activation(self.output, chosen, self.layers[-1])
        fused = chosen.fuses
        self.output_layer = activation(self.output) if fused is None and self.output != "linear" else None
        if self.output_layer is not None:
            self.output_layer.build(self.rng, self.dtype, self.backend)  # no draws: it only takes the device
        self._chain = fuse(self.layers + ([self.output_layer] if self.output_layer else []))
        self.accuracy_threshold = 0.0 if fused == "sigmoid" else 0.5  # one output: logits vs probabilities
        for layer in self._chain:
            layer.propagate_grad = True
        # Backward stops at the first layer with parameters: nothing below needs a gradient.
        self._grad_stop = next((i for i, layer in enumerate(self._chain) if layer.params), 0)
        self._chain[self._grad_stop].propagate_grad = False
        self._constrained = [layer for layer in self.layers if layer.constrained]
        return self

    def require_compiled(self) -> tuple[losses.Loss, Optimizer]:
        """(loss, optimizer), or a ConfigError saying to compile first."""
        if self.loss is None or self.optimizer is None:
            raise ConfigError("the model is not compiled: call model.compile(loss=..., optimizer=...) first")
        return self.loss, self.optimizer

    # ----- forward / backward ------------------------------------------------------
    def forward(self, x, training: bool = False):
        """Logits (batch, outputs) for a float batch (batch, features)."""
        for layer in self._inference:
            x = layer.forward(x, training)
        return x

    def forward_to_loss(self, x):
        """What the loss sees, in training mode: the layers, then the output activation the loss does not apply."""
        for layer in self._chain:
            x = layer.forward(x, True)
        return x

    def backward(self, grad_out, unformed: bool = False) -> None:
        """Backpropagate dLoss/d(outputs the loss saw) (batch, outputs); fills every layer's `grads`.

        unformed: one sample's weight gradients (x.T @ grad, rank 1) are not written into `grads` but kept
        as their factors for the optimizer: pass `step_slots()` to `optimizer.step` right after."""
        if unformed != self._unformed:
            for dense, _ in self._weights:
                dense.defer_outer = unformed
            self._unformed = unformed
        for layer in reversed(self._chain[self._grad_stop:]):
            grad_out = layer.backward(grad_out)

    def step_slots(self) -> tuple[list, list]:
        """([flat_params], [gradient]) for `optimizer.step` after a backward: the flat gradient, or an
        `OuterProducts` naming the one-sample weight gradients an `unformed` backward left as factors."""
        if not self._unformed:
            return self.optimizer_slots
        parts = []
        for dense, start in self._weights:
            if dense.outer_factors is not None:
                parts.append((start, dense.params["W"].shape, *dense.outer_factors))
                dense.outer_factors = None
        return [self.flat_params], [OuterProducts(self.flat_grads, parts) if parts else self.flat_grads]

    def compute_gradients(self, x_batch, y_batch) -> tuple[float, object]:
        """Forward and backward in training mode: fills `grads` with the true gradients. (loss, outputs)."""
        loss_fn, _ = self.require_compiled()
        outputs = self.forward_to_loss(x_batch)
        loss = loss_fn.forward(outputs, y_batch)
        self.backward(loss_fn.backward())
        return loss, outputs

    def apply_constraints(self) -> None:
        for layer in self._constrained:
            layer.apply_constraints()

    # ----- training (a Trainer does the work) ----------------------------------------
    def fit(self, x, y, epochs: int = 1, batch_size: int | None = 32, validation_data=None,
            validation_split: float = 0.0, shuffle: bool = True, callbacks: Iterable[Callback] = (),
            initial_epoch: int = 0, verbose="auto", augment=None, diagnose: bool = True) -> History:
        """Train for `epochs` epochs (see `Trainer.fit`); `initial_epoch` continues the model's history there.

        augment: a `barenet.Augment` (e.g. `Augment(["affine", "elastic"], seed=0)`): every training
        batch drawn as freshly distorted copies of its images.

        verbose: 1 or "auto" shows a progress bar per epoch (tqdm.auto: a widget in Jupyter) ending with the
        epoch's metrics, 2 one line per epoch, 0 nothing. Returns the History (`history.history["loss"]`).

        diagnose: the training doctor (`training.doctor.Doctor`) watches the run: its findings are on
        `history.diagnoses`, and problems are printed as they fire unless verbose is 0. False: no doctor.
        """
        callbacks = [*callbacks, *verbosity_callbacks(verbose)]
        if diagnose and not any(isinstance(c, Doctor) for c in callbacks):
            callbacks.append(Doctor(report=doctor_printer(verbose)))
        trainer = Trainer(self, batch_size=batch_size, shuffle=shuffle, callbacks=callbacks, augment=augment)
        if initial_epoch:
            trainer.epoch = initial_epoch
            if self.history is not None:
                trainer.history = self.history
        self.history = trainer.history
        return trainer.fit(x, y, epochs, validation_data=validation_data, validation_split=validation_split)

    def evaluate(self, x, y) -> dict:
        """Mean loss and accuracy on (x, y): {"loss": float, "accuracy": float}."""
        return Trainer(self).evaluate(x, y)

    # ----- prediction ----------------------------------------------------------------
    def logit_chunks(self, x) -> Iterator[tuple[int, object]]:
        """(first row, logits) for chunks of EVAL_BATCH rows of x (N, features), in inference mode.

        x on the host or on the model's device; each chunk is uploaded (if it is not there) and its
        logits stay on the device. Fast path for uint8 pixels: the first layer absorbs the 1/255
        (`Layer.scaled_input`), so each chunk is only cast to floats, not cast and multiplied.
        """
        folded = self._inference[0].scaled_input(PIXEL_SCALE) if x.dtype == np.uint8 else None
        for begin in range(0, len(x), EVAL_BATCH):
            chunk = self.backend.asarray(x[begin:begin + EVAL_BATCH])
            if folded is None:
                yield begin, self.forward(to_floats(chunk, self.dtype))
                continue
            hidden = folded.forward(chunk.astype(self.dtype))
            for layer in self._inference[1:]:
                hidden = layer.forward(hidden, False)
            yield begin, hidden

    def outputs_from_logits(self, logits):
        """What the loss compares with the targets: the logits, or the output activation's values."""
        return logits if self.output_layer is None else self.output_layer.forward(logits, False)

    def predict_logits(self, x):
        """Raw outputs of the last layer, (N, outputs), as a NumPy array (computed on the model's device)."""
        x = inputs.features(x, self.in_features, self.dtype)
        with self.backend.activated(), self.backend.floats():
            parts = [self.backend.to_numpy(logits) for _, logits in self.logit_chunks(x)]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def predict_proba(self, x):
        """Probabilities (N, classes): the output activation applied to the logits."""
        logits = self.predict_logits(x)
        if self.output == "softmax":  # on the host: the logits are NumPy by now
            return functional.softmax(logits)
        if self.output == "sigmoid":
            return functional.sigmoid(logits)
        return logits

    def predict(self, x):
        """Class ids (N,): the most probable class (a 0.5 threshold for one sigmoid output)."""
        logits = self.predict_logits(x)
        if logits.shape[1] == 1:
            return (logits[:, 0] > 0).astype(np.int64)
        return logits.argmax(axis=1)

    # ----- files ---------------------------------------------------------------------
    def save(self, path, include_optimizer: bool = False, extra: dict | None = None) -> None:
        """Write weights (safetensors) and architecture (JSON metadata) atomically to `path`.
        `include_optimizer` keeps the optimizer state (to resume); `extra` is any JSON-able dict."""
        modelfile.write(self, path, include_optimizer=include_optimizer, extra=extra)
