"""The training loop: a `Trainer` owns one training run of a compiled model.

    trainer = Trainer(model, batch_size=128, callbacks=[EarlyStopping(patience=3)])
    history = trainer.fit(x, y, epochs=10, validation_data=(x_val, y_val))
    trainer.evaluate(x_test, y_test)          # {"loss": ..., "accuracy": ...}
    state = trainer.state_dict()              # later: Trainer(model).load_state_dict(state), fit again

An epoch: the learning rate for the epoch, a permutation from the model's generator,
then per batch
    1. the batch's rows gathered as floats (uint8 pixels scaled in the same pass:
       `data.transforms.gather`),
    2. forward to the loss, loss and its gradient, backward,
    3. `optimizer.step` (one fused kernel over the flat buffer), then the layers'
       constraints (max-norm),
    4. callbacks that want it get a `Step` (loss, batch, step number, gradients); a sampling callback
       (the training doctor) only at the steps it chose, with the weights before the update;
then validation, the schedule's observation of the epoch's metrics, and the callbacks.

On a device (a model with `device="cuda"`) the same loop runs on device arrays
(`training/resident.py`): the data set is uploaded once, batches are gathered there, and
the epoch's loss and accuracy stay there until the epoch ends, so a step never waits for
the device. What changes: a NaN loss is found at the end of its epoch, not at its step
(the weights are restored to the epoch's start either way); a callback that wants steps
reads each step's loss (a wait per step) and gets the batch and gradients as device
arrays; an augmentation warps the device's rows on the device (only its random maps and
coefficients, drawn on the host, are uploaded).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import numpy as np

from ..backend import Backend
from ..data.transforms import gather
from ..errors import ConfigError, TrainingDiverged
from . import inputs
from .callbacks import Callback, History, Step, StepPlan
from .resident import Resident, Totals, correct_predictions

# Below this many FLOPs per training step, a second BLAS thread costs more in synchronisation
# than it gains (measured on 2-core machines: batch 1 and 32 on [784,128,64,10]); see docs/PERFORMANCE.md.
SINGLE_THREAD_BELOW_FLOPS = 4e7
# An epoch whose mean training loss is this many times the loss before training has diverged, even if finite
# (Adam at lr 1e6 reaches 1e18 without a NaN). Healthy runs stay far below: their loss falls.
DIVERGENCE_FACTOR = 100.0


class Augmenter(Protocol):
    """What a Trainer needs of an augmentation (`data.augment.Augment` has it)."""

    def __call__(self, x, index, dtype, backend) -> Any: ...  # (N, features) rows, (B,) index -> (B, features)
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


class TrainableModel(Protocol):
    """What a Trainer needs of a model (`Sequential` has it all)."""

    loss: Any
    optimizer: Any
    backend: Backend  # where the parameters live; the Trainer puts the data there
    rng: np.random.Generator
    dtype: np.dtype
    flat_params: Any
    flat_grads: Any
    optimizer_slots: tuple[list, list]
    in_features: int | None
    out_features: int | None
    accuracy_threshold: float
    stop_training: bool

    def require_compiled(self) -> tuple[Any, Any]: ...  # (loss, optimizer)
    def forward_to_loss(self, x) -> Any: ...
    def backward(self, grad_out, unformed: bool = False) -> None: ...
    def step_slots(self) -> tuple[list, list]: ...
    def apply_constraints(self) -> None: ...
    def parameters(self) -> tuple[list, list]: ...
    def count_params(self) -> int: ...
    def logit_chunks(self, x) -> Iterator[tuple[int, Any]]: ...
    def outputs_from_logits(self, logits) -> Any: ...
    def get_weights(self) -> list: ...
    def random_state(self) -> dict: ...
    def load_random_state(self, state: dict) -> None: ...
    def set_weights(self, weights: list) -> None: ...


class Trainer:
    """A training run: batching, the optimizer step, callbacks, evaluation and resumable state.

    model       a compiled model (its loss, optimizer and random generator are used)
    batch_size  1 = per-sample SGD, None = full-batch gradient descent
    shuffle     a new order of the training rows every epoch (from the model's generator)
    callbacks   Callback objects; a History is always first (`trainer.history`)
    augment     a `data.augment.Augment` (or any callable (x, index, dtype) -> batch with
                state_dict/load_state_dict): every training batch distorted afresh, in place of `gather`
    """

    def __init__(self, model: TrainableModel, batch_size: int | None = 32, shuffle: bool = True,
                 callbacks: Iterable[Callback] = (), augment: Augmenter | None = None):
        inputs.check_parameters({"batch_size": batch_size}, inputs.FIT_PARAMETERS)
        self.model, self.batch_size, self.shuffle = model, batch_size, bool(shuffle)
        self.augment = augment
        self.callbacks = list(callbacks)
        self.history = History()
        self.epoch = 0  # epochs completed
        self.initial_loss: float | None = None  # the loss before any training: the divergence guard's yardstick
        self._pending_callback_state: dict = {}
        self._monitored: dict = {}

    # ----- fit ---------------------------------------------------------------------
    def fit(self, x, y, epochs: int = 1, validation_data=None, validation_split: float = 0.0,
            max_steps: int | None = None, monitor: dict | None = None) -> History:
        """Train until `epochs` epochs are complete (counting those done before a resume).

        x (N, features) or images (N, H, W): uint8 pixels (scaled per batch) or floats;
        y class ids (N,) or targets (N, classes). validation_data (x_val, y_val), or
        validation_split to hold out the last fraction of x. max_steps stops after that
        many steps in this call; an epoch it cuts short is not recorded. monitor {name: (x, y)}: more sets
        evaluated after every epoch, logged as name_loss and name_accuracy, seen by nothing that decides
        (the schedule and early stopping watch loss or val_loss); e.g. {"test": ...} when asked for explicitly.
        Raises TrainingDiverged (weights restored to the epoch's start) if the loss turns NaN/inf.
        """
        backend = self.model.backend
        with backend.activated(), backend.floats():  # "cuda:N": allocate on that GPU; the CPU: no subnormals
            try:
                return self._fit(x, y, epochs, validation_data, validation_split, max_steps, monitor)
            except (TrainingDiverged, KeyboardInterrupt) as error:
                for callback in [self.history, *self.callbacks]:
                    callback.on_train_stop(error)
                raise

    def _fit(self, x, y, epochs: int, validation_data, validation_split: float, max_steps: int | None,
             monitor: dict | None) -> History:
        self.model.require_compiled()
        inputs.check_parameters({"epochs": epochs, "validation_split": validation_split, "max_steps": max_steps},
                                inputs.FIT_PARAMETERS)
        x, y, validation = self._training_data(x, y, validation_data, validation_split)
        validation = None if validation is None else self._uploaded(*validation)
        self._monitored = {name: self._uploaded(*self._validated(x_set, y_set, prefix=f"{name} "))
                           for name, (x_set, y_set) in (monitor or {}).items()}
        data = Resident.upload(self.model.backend, x, y)
        batch_size = len(x) if self.batch_size is None else self.batch_size
        callbacks = self._start(len(x), batch_size, epochs, validation is not None)
        steps_left = math.inf if max_steps is None else max_steps
        if self.initial_loss is None and self.epoch < epochs:
            start_loss = self._evaluate(data.x[:256], data.y[:256])["loss"]
            self.initial_loss = start_loss if math.isfinite(start_loss) else None
        with self._gemm_threads(batch_size):
            while self.epoch < epochs and not self.model.stop_training and steps_left > 0:
                logs = self._train_epoch(data, batch_size, callbacks, steps_left)
                steps_left -= math.ceil(len(x) / batch_size)
                if logs is not None:
                    self._check_divergence(logs["loss"])
                    self._end_epoch(logs, validation, callbacks)
        for callback in callbacks:
            callback.on_train_end({})
        return self.history

    def _training_data(self, x, y, validation_data, validation_split: float):
        if validation_data is not None and validation_split:
            raise ConfigError("give validation_data or validation_split, not both")
        x, y = self._validated(x, y)
        if validation_split:
            (x, y), validation_data = inputs.holdout(x, y, validation_split)
        elif validation_data is not None:
            x_val, y_val = validation_data
            validation_data = self._validated(x_val, y_val, prefix="validation ")
        return x, y, validation_data

    def _validated(self, x, y, prefix: str = ""):
        model = self.model
        x = inputs.features(x, model.in_features, model.dtype, f"{prefix}x")
        return x, inputs.targets(y, len(x), model.out_features, model.dtype, f"{prefix}y")

    def _uploaded(self, x, y) -> tuple[Any, Any]:
        """An evaluation set (checked on the host) on the model's device, uploaded once (the CPU: as it is)."""
        backend = self.model.backend
        return backend.asarray(x), backend.asarray(y)

    def _start(self, samples: int, batch_size: int, epochs: int, validation: bool) -> list[Callback]:
        callbacks = [self.history, *self.callbacks]
        for callback in callbacks:
            callback.set_trainer(self)
        self.model.stop_training = False
        logs = {"samples": samples, "batch_size": int(batch_size), "epochs": epochs,
                "steps": math.ceil(samples / batch_size), "validation": validation}
        for callback in callbacks:
            callback.on_train_begin(logs)
        for callback in self.callbacks:  # resumed state: after on_train_begin, which resets it
            state = self._pending_callback_state.pop(type(callback).__name__, None)
            if state is not None:
                callback.load_state_dict(state)
        return callbacks

    def _gemm_threads(self, batch_size: int):
        """A context that keeps the GEMM provider to one thread for steps too small to gain from a second one
        (the GEMM FLOPs of a step below SINGLE_THREAD_BELOW_FLOPS); a GPU's provider ignores it."""
        step_flops = 6 * batch_size * self.model.count_params()
        return self.model.backend.gemm.threads(1 if step_flops < SINGLE_THREAD_BELOW_FLOPS else None)

    # ----- one epoch, one step -------------------------------------------------------
    def _train_epoch(self, data: Resident, batch_size: int, callbacks: list[Callback],
                     steps_left: float) -> dict | None:
        """One pass over the training set; the epoch's mean loss, accuracy, lr and seconds (None if cut short)."""
        model, n, epoch, on_host = self.model, len(data), self.epoch, self.model.backend.on_host
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        started = time.perf_counter()
        lr = model.optimizer.set_lr(epoch)
        start_weights = self._epoch_start = model.flat_params.copy()
        plan = StepPlan(callbacks, epoch, math.ceil(n / batch_size))
        order = data.order(model.rng, self.shuffle)
        totals = Totals(model.backend, mean=model.loss.reduction == "mean")
        for batch, begin in enumerate(range(0, n, batch_size)):
            if batch >= steps_left:
                return None
            rows = slice(begin, begin + batch_size)
            index = order[rows] if order is not None else rows
            x_batch, y_batch = self._batch(data, index), data.y[index]
            watchers, needs_gradients, needs_weights = plan.at(batch)
            before = [p.copy() for p in model.parameters()[0]] if needs_weights else None
            loss, outputs, gradients = self._step(x_batch, y_batch, needs_gradients)
            if on_host and not math.isfinite(loss):  # on a device: checked once, at the end of the epoch
                self._diverged(loss, batch, start_weights)
            totals.add(loss, len(y_batch), outputs, y_batch, model.accuracy_threshold)
            if watchers:
                step = Step(model.optimizer.iterations, epoch, batch, loss, len(y_batch), x_batch, y_batch,
                            gradients, before)
                for callback in watchers:
                    callback.on_step_end(step)
        total_loss, correct = totals.read()
        if not math.isfinite(total_loss):
            self._diverged(total_loss, None, start_weights)
        return {"loss": total_loss / n, "accuracy": correct / n, "lr": lr, "seconds": time.perf_counter() - started}

    def _batch(self, data: Resident, index):
        """The batch's rows as the model's floats, made on the model's device: gathered, or distorted by the
        augmentation (its draws made on the host, its warp on the device)."""
        if self.augment is None:
            return gather(data.x, index, self.model.dtype, self.model.backend)
        return self.augment(data.x, index, self.model.dtype, self.model.backend)

    def _step(self, x_batch, y_batch, needs_gradients: bool) -> tuple[float, Any, list | None]:
        """Forward, backward, update: (loss, outputs the loss saw, gradients if a callback needs them)."""
        model = self.model
        outputs = model.forward_to_loss(x_batch)
        loss = model.loss.forward(outputs, y_batch)
        # One sample: its weight gradients may stay unformed (the optimizer uses their factors), unless a
        # callback is to see them.
        model.backward(model.loss.backward(), unformed=not needs_gradients)
        gradients = [g.copy() for g in model.parameters()[1]] if needs_gradients else None
        model.optimizer.step(*model.step_slots())
        model.apply_constraints()
        return loss, outputs, gradients

    def _diverged(self, loss: float, batch: int | None, start_weights) -> None:
        """Restore the epoch's starting weights and raise; `batch` is None when found at the epoch's end."""
        self.model.flat_params[...] = start_weights
        where = "" if batch is None else f" (step {batch + 1})"
        raise TrainingDiverged(
            f"the loss became {loss} in epoch {self.epoch + 1}{where} at learning rate "
            f"{self.model.optimizer.lr:g}: lower the learning rate (weights restored to the end of "
            f"epoch {self.epoch})", self.history)

    def _check_divergence(self, loss: float) -> None:
        """After an epoch: a mean loss DIVERGENCE_FACTOR times the starting loss is divergence, for every optimizer."""
        if self.initial_loss is None or not math.isfinite(self.initial_loss):
            return
        if loss > DIVERGENCE_FACTOR * max(self.initial_loss, 0.01):
            self.model.flat_params[...] = self._epoch_start
            raise TrainingDiverged(
                f"the loss rose to {loss:.3g} in epoch {self.epoch + 1}, over {DIVERGENCE_FACTOR:g} times its "
                f"starting value {self.initial_loss:.3g}, at learning rate {self.model.optimizer.lr:g}: lower the "
                f"learning rate (weights restored to the end of epoch {self.epoch})", self.history)

    def _end_epoch(self, logs: dict, validation, callbacks: list[Callback]) -> None:
        if validation is not None:
            scores = self._evaluate(*validation)
            logs.update(val_loss=scores["loss"], val_accuracy=scores["accuracy"])
        for name, pair in self._monitored.items():
            scores = self._evaluate(*pair)
            logs.update({f"{name}_loss": scores["loss"], f"{name}_accuracy": scores["accuracy"]})
        logs.update(lr=logs.pop("lr"), seconds=logs.pop("seconds"))
        self.model.optimizer.schedule.observe(logs)
        self.epoch += 1
        for callback in callbacks:
            callback.on_epoch_end(self.epoch - 1, logs)

    # ----- evaluation ---------------------------------------------------------------
    def evaluate(self, x, y) -> dict:
        """Mean loss and accuracy on (x, y): {"loss": float, "accuracy": float}."""
        self.model.require_compiled()
        backend = self.model.backend
        with backend.activated(), backend.floats():
            return self._evaluate(*self._uploaded(*self._validated(x, y)))

    def _evaluate(self, x, y) -> dict:
        """Mean loss and accuracy of (x, y) on the model's device, read once at the end."""
        model, loss_fn = self.model, self.model.loss
        totals = Totals(model.backend, mean=loss_fn.reduction == "mean")
        for begin, logits in model.logit_chunks(x):
            y_chunk = y[begin:begin + len(logits)]
            outputs = model.outputs_from_logits(logits)
            totals.add(loss_fn.forward(outputs, y_chunk), len(y_chunk), outputs, y_chunk, model.accuracy_threshold)
        total, correct = totals.read()
        return {"loss": total / len(x), "accuracy": correct / len(x)}

    # ----- state --------------------------------------------------------------------
    def progress(self) -> dict:
        """The JSON-able part of the state: epochs done, the model's generator, history, callbacks."""
        return {"epoch": self.epoch, "rng": self.model.rng.bit_generator.state,
                "layers_random": self.model.random_state(), "initial_loss": self.initial_loss,
                "history": self.history.history, "history_epochs": self.history.epochs,
                "callbacks": {type(c).__name__: c.state_dict() for c in self.callbacks if c.state_dict() is not None},
                **({"augment": self.augment.state_dict()} if self.augment is not None else {})}

    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue bit for bit:
        {"weights": [arrays], "optimizer": optimizer.state_dict() (with its schedule), "progress": progress()}."""
        return {"weights": self.model.get_weights(), "optimizer": self.model.optimizer.state_dict(),
                "progress": self.progress()}

    def load_state_dict(self, state: dict) -> None:
        """Restore the parts of a `state_dict()` present in `state` (any of weights, optimizer, progress)."""
        model = self.model
        if "weights" in state:
            model.set_weights(state["weights"])
        if "optimizer" in state:
            model.optimizer.load_state_dict(state["optimizer"], model.optimizer_slots[0])
        progress = state.get("progress", {})
        if "rng" in progress:
            model.rng.bit_generator.state = progress["rng"]
        model.load_random_state(progress.get("layers_random", {}))
        if "history" in progress:
            self.history.history, self.history.epochs = progress["history"], progress["history_epochs"]
        self.epoch = int(progress.get("epoch", self.epoch))
        self.initial_loss = progress.get("initial_loss", self.initial_loss)
        self._pending_callback_state.update(progress.get("callbacks", {}))
        if self.augment is not None and "augment" in progress:
            self.augment.load_state_dict(progress["augment"])


def count_correct(outputs, targets, threshold: float = 0.5) -> int:
    """How many rows of `outputs` (N, classes) pick the right class (targets: ids (N,) or rows (N, classes)).
    A single output counts as class 1 above `threshold` (0 for logits, 0.5 for probabilities)."""
    return int(correct_predictions(outputs, targets, threshold))


