"""Callbacks: code that runs at points of a training run (Keras-style hooks).

    on_train_begin(logs)  on_epoch_begin(epoch)  on_step_end(step)  on_batch_end(batch, logs)
    on_epoch_end(epoch, logs)  on_train_end(logs)

`on_step_end(step)` is the per-step hook: after every optimizer update it gets a
`Step` (step number, epoch, batch, loss, the batch itself, and the true gradients
when the callback sets `needs_gradients`). Its default calls Keras's
`on_batch_end(batch, {"loss", "size"})`. A callback that overrides neither costs
nothing per step. A callback that samples (`sampled_steps` returns the batches it wants)
sees only those steps, with the gradients and the weights before the update where it
asks: nothing is copied, and on a device nothing is read, at the other steps.
`on_train_stop(error)` runs instead of `on_train_end` when training stops on an error
(TrainingDiverged, KeyboardInterrupt), before the error goes on. `logs` at the end of an epoch holds: loss, accuracy,
(val_loss, val_accuracy), lr and seconds. A callback stops training by setting
`model.stop_training`. A callback with state worth resuming returns it from
`state_dict()`; the Trainer saves it with the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError


@dataclass
class Step:
    """One optimizer step, as `Callback.on_step_end` sees it, after the update.

    number     optimizer steps taken in all, 1 for the first
    epoch      the epoch it belongs to, from 0;  batch  its index within the epoch, from 0
    loss       the batch's loss (a float; on a device a 0-d device array: `float(step.loss)` waits for it,
               so read it only when needed);  size  samples in the batch
    x, y       the float batch the network saw, (size, features), and its targets
    gradients  the true gradient of every parameter (layer order, W before b), copies taken
               before the update; None unless a callback sets `needs_gradients` or samples the step
    weights_before  every parameter before the update (copies, the same order); None unless a callback
               samples the step and asks for them (`sampled_steps`)
    """

    number: int
    epoch: int
    batch: int
    loss: Any
    size: int
    x: Any
    y: Any
    gradients: list | None = None
    weights_before: list | None = None


class Callback:
    model: Any = None
    trainer: Any = None
    needs_gradients = False  # True: every Step carries the step's gradients (a copy per step)

    def set_model(self, model) -> None:
        self.model = model

    def set_trainer(self, trainer) -> None:
        """Called by the Trainer before training: the run's trainer and model."""
        self.trainer = trainer
        self.set_model(trainer.model)

    def on_train_begin(self, logs: dict) -> None: ...

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_step_end(self, step: Step) -> None:
        self.on_batch_end(step.batch, {"loss": step.loss, "size": step.size})

    def on_batch_end(self, batch: int, logs: dict) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, logs: dict) -> None: ...

    def on_train_stop(self, error: BaseException) -> None:
        """Training stopped on `error` (TrainingDiverged, KeyboardInterrupt): on_train_end does not run."""

    def sampled_steps(self, epoch: int, steps: int) -> dict[int, bool] | None:
        """The batches of `epoch` (which has `steps`) whose end this callback sees, each mapped to whether its
        Step carries the gradients and the weights before the update; None (the default): every step, with
        gradients when `needs_gradients` says so."""
        return None

    def state_dict(self) -> dict | None:
        """JSON-able state a resumed run needs, or None (nothing to keep)."""
        return None

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned; the Trainer calls it after on_train_begin."""


def wants_steps(callback: Callback) -> bool:
    """Whether the callback does anything per step (overrides on_step_end or on_batch_end, or was given one)."""
    for name in ("on_step_end", "on_batch_end"):
        if name in vars(callback) or getattr(type(callback), name) is not getattr(Callback, name):
            return True
    return False


class StepPlan:
    """Which callbacks see which steps of one epoch: those that want every step, and the samplers at the
    batches they chose. `at(batch)` -> (callbacks, gradients wanted, weights before wanted)."""

    def __init__(self, callbacks: list[Callback], epoch: int, steps: int):
        self.every: list[Callback] = []
        self.sampled: dict[int, tuple[list[Callback], bool]] = {}
        for callback in (c for c in callbacks if wants_steps(c)):
            chosen = callback.sampled_steps(epoch, steps)
            if chosen is None:
                self.every.append(callback)
                continue
            for batch, full in chosen.items():
                seen, wanted = self.sampled.get(batch, ([], False))
                self.sampled[batch] = ([*seen, callback], wanted or bool(full))
        self.gradients = any(c.needs_gradients for c in self.every)
        self._every = (self.every, self.gradients, False)

    def at(self, batch: int) -> tuple[list[Callback], bool, bool]:
        """The callbacks that see this batch's step, and whether its Step carries gradients and weights before."""
        if batch not in self.sampled:
            return self._every
        callbacks, full = self.sampled[batch]
        return [*self.every, *callbacks], self.gradients or full, full


class History(Callback):
    """Per-epoch metrics, as Keras keeps them: `history.history["val_accuracy"][-1]` or `history["loss"]`;
    `history.epoch` the epochs (from 0), `history.params` the run's samples, batch_size, epochs and steps;
    `history.diagnoses` the training doctor's findings (`Diagnosis` objects), in the order they fired."""

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epochs: list[int] = []
        self.params: dict = {}
        self.diagnoses: list = []  # what the training doctor found (`training.doctor.Doctor`), as it fired

    def on_train_begin(self, logs):
        self.params = dict(logs)

    @property
    def epoch(self) -> list[int]:
        """The epochs recorded, counted from 0 (Keras's name)."""
        return self.epochs

    def __repr__(self) -> str:
        if not self.epochs:
            return "History(no epochs yet)"
        last = {key: values[-1] for key, values in self.history.items()}
        return f"History({len(self.epochs)} epochs; epoch {self.epochs[-1] + 1}: {format_logs(last)})"

    def on_epoch_end(self, epoch, logs):
        self.epochs.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def __len__(self) -> int:
        return len(self.epochs)

    def rows(self) -> list[dict]:
        """One dict per epoch: {"epoch": 1, "loss": ..., ...} (epochs counted from 1)."""
        keys = list(self.history)
        return [{"epoch": e + 1, **{k: self.history[k][i] for k in keys}} for i, e in enumerate(self.epochs)]


def _monitored(logs: dict, monitor: str, owner: str):
    """The monitored value, falling back from val_x to x when there is no validation set."""
    if monitor in logs:
        return logs[monitor]
    fallback = monitor.removeprefix("val_")
    if fallback in logs:
        return logs[fallback]
    raise ConfigError(f"{owner} monitors {monitor!r}, which training does not report "
                      f"(available: {', '.join(logs)})")


def _mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs;
    with `restore_best_weights`, put back the weights of the best epoch."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True):
        if patience < 0 or min_delta < 0:
            raise ConfigError("EarlyStopping needs patience >= 0 and min_delta >= 0")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = _mode_for(monitor, mode)
        self.restore_best_weights = restore_best_weights
        self.stopped_epoch = None

    def on_train_begin(self, logs):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.best_weights, self.wait = None, None, 0

    def _better(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if self._better(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs):
        if self.restore_best_weights and self.best_weights is not None and self.stopped_epoch is not None:
            self.model.set_weights(self.best_weights)

    def state_dict(self):
        return {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch}

    def load_state_dict(self, state):
        self.best, self.wait, self.best_epoch = float(state["best"]), int(state["wait"]), state["best_epoch"]


class ModelCheckpoint(Callback):
    """Save the model after each epoch (atomically: a reader never sees half a file).

    `path` may contain `{epoch}`; with `save_best_only`, save only when
    `monitor` improves.
    """

    def __init__(self, path, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto"):
        self.path, self.monitor, self.save_best_only = str(path), monitor, save_best_only
        self.mode = _mode_for(monitor, mode)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            improved = value < self.best if self.mode == "min" else value > self.best
            if not improved:
                return
            self.best = value
        self.model.save(self.path.format(epoch=epoch + 1))


class StopAtTarget(Callback):
    """Stop once `monitor` reaches `target` (e.g. loss below -log(0.99), accuracy above 0.99)."""

    def __init__(self, target: float, monitor: str = "loss", mode: str = "auto"):
        self.target, self.monitor = float(target), monitor
        self.mode = _mode_for(monitor, mode)
        self.reached_epoch = None

    def on_epoch_end(self, epoch, logs):
        value = _monitored(logs, self.monitor, "StopAtTarget")
        if (value <= self.target) if self.mode == "min" else (value >= self.target):
            self.reached_epoch = epoch
            self.model.stop_training = True


class LambdaCallback(Callback):
    """Wrap plain functions: LambdaCallback(on_epoch_end=lambda epoch, logs: print(logs))."""

    def __init__(self, **hooks):
        unknown = set(hooks) - {"on_train_begin", "on_epoch_begin", "on_step_end", "on_batch_end", "on_epoch_end",
                                "on_train_end"}
        if unknown:
            raise ConfigError(f"unknown callback hooks: {', '.join(sorted(unknown))}")
        for name, function in hooks.items():
            setattr(self, name, function)


class ProgressBar(Callback):
    """A tqdm bar per epoch: batches done, samples/s and the running mean loss."""

    def __init__(self, file=None, refresh_every: int = 50):
        self.file, self.refresh_every = file, refresh_every
        self.bar: Any = None

    def on_train_begin(self, logs):
        self.steps, self.epochs = logs["steps"], logs["epochs"]

    def on_epoch_begin(self, epoch):
        from tqdm import tqdm

        self.bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", unit="batch", leave=False,
                        file=self.file, dynamic_ncols=True, mininterval=0.2, disable=None)  # off unless a TTY
        self.loss_sum, self.samples, self.pending = 0.0, 0, 0

    def on_step_end(self, step):
        self.loss_sum += step.loss * step.size
        self.samples += step.size
        self.pending += 1
        if self.pending >= self.refresh_every or step.batch + 1 == self.steps:
            self.bar.update(self.pending)
            self.pending = 0
            rate = self.samples / max(self.bar.format_dict["elapsed"], 1e-9)
            self.bar.set_postfix_str(f"loss {self.loss_sum / self.samples:.4f}, {rate:,.0f} samples/s",
                                     refresh=False)

    def on_epoch_end(self, epoch, logs):
        self._close()

    def on_train_end(self, logs):
        self._close()

    def _close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def format_logs(logs: dict) -> str:
    """An epoch's metrics in one line: "loss 0.2345 - accuracy 93.21% - val_loss ... - lr 0.1 - 2.1s"."""
    parts = []
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in logs:
            parts.append(f"{key} {logs[key]:.2%}" if "accuracy" in key else f"{key} {logs[key]:.4f}")
    if "lr" in logs:
        parts.append(f"lr {logs['lr']:.3g}")
    if "seconds" in logs:
        parts.append(f"{logs['seconds']:.1f}s")
    return " - ".join(parts)


def _auto_tqdm():
    """tqdm.auto's class: a widget in Jupyter (with ipywidgets), text elsewhere."""
    from tqdm.auto import tqdm

    return tqdm


class ProgbarLogger(ProgressBar):
    """What `fit(verbose=1)` shows, as in Keras: a bar per epoch (tqdm.auto, so a widget in Jupyter)
    with the running loss, left in place at the end of the epoch with the epoch's metrics."""

    def on_epoch_begin(self, epoch):
        tqdm = _auto_tqdm()
        self.bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", unit="batch", leave=True,
                        file=self.file, dynamic_ncols=True, mininterval=0.2)
        self.loss_sum, self.samples, self.pending = 0.0, 0, 0

    def on_epoch_end(self, epoch, logs):
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs), refresh=True)
        self._close()


class EpochLogger(Callback):
    """What `fit(verbose=2)` shows: one line per epoch, "epoch 3/10: loss 0.1234 - accuracy 96.12% - ..."."""

    def __init__(self, file=None):
        self.file = file

    def on_train_begin(self, logs):
        self.epochs = logs["epochs"]

    def on_epoch_end(self, epoch, logs):
        import sys

        print(f"epoch {epoch + 1}/{self.epochs}: {format_logs(logs)}", file=self.file or sys.stdout, flush=True)


def verbosity_callbacks(verbose) -> list[Callback]:
    """The callbacks `fit(verbose=...)` adds: 0/False nothing, 1/True/"auto" a progress bar per epoch,
    2 one line per epoch (Keras's levels)."""
    levels: dict[int | str, list[type[Callback]]] = {0: [], 1: [ProgbarLogger], 2: [EpochLogger],
                                                     "auto": [ProgbarLogger]}
    key = int(verbose) if isinstance(verbose, bool) else verbose
    if not isinstance(key, (int, str)) or key not in levels:
        raise ConfigError(f"verbose must be 0 (silent), 1 or 'auto' (a progress bar), or 2 (one line per epoch), "
                          f"got {verbose!r}")
    return [cls() for cls in levels[key]]
