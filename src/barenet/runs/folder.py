"""A run folder belongs to one process at a time, and knows the configuration it was trained with.

    with RunLock(run_dir):           # fcntl.flock on run_dir/.lock; a second process is refused, naming the pid
        ...
    fingerprint(config)              # SHA-256 of the resolved config, kept in every checkpoint
    remove_stale_parts(run_dir)      # temp files of writes killed half-way (only safe under the lock)
    with signals_held(): ...         # a checkpoint and the count of saved epochs change together
    check_progress(progress, path)   # the Trainer progress a checkpoint holds, kinds and ranges checked
    check_optimizer_state(model, progress, path)  # and the optimizer's state, without which it would not resume exactly
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..data import augment
from ..errors import ConfigError, ModelFileError
from ..io.files import is_temp_file, write_error
from ..io.schema import INT, LIST, NULL, NUMBER, STR, TABLE, check_table, field, kind_of, printable
from ..training.diagnoses import Diagnosis
from .schema import MAX_EPOCHS

LOCK_NAME = ".lock"
CHECKPOINT = "checkpoint.safetensors"  # after every epoch: weights, optimizer state, the Trainer's progress
PROGRESS = {"epoch": field(INT, low=0, high=MAX_EPOCHS), "rng": field(TABLE), "history": field(TABLE),
            "history_epochs": field(LIST, items=field(INT, low=0, high=MAX_EPOCHS), max_items=MAX_EPOCHS),
            "callbacks": field(TABLE), "early_stopping": field(TABLE), "config_sha256": field(STR, max_length=64),
            "initial_loss": field(NUMBER, NULL), "augment": field(TABLE), "layers_random": field(TABLE)}
LAYER_RANDOM = {"key": field(INT, low=0, high=2 ** 32 - 1), "offset": field(INT, low=0, high=2 ** 63 - 1)}
REQUIRED = ("epoch", "rng", "history", "history_epochs")


class RunLock:
    """An exclusive lock on a run folder for as long as the `with` block runs (released if the process dies)."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot lock {self.path.parent}: {exc.strerror}; choose another folder") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise ConfigError(f"{self.path.parent} is in use by another barenet process (pid {self._holder()}): "
                              f"wait for it to finish or stop it, then try again") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:  # a full disk: the run could not write a file anyway
            os.close(fd)
            raise write_error(self.path, exc) from None
        self.fd = fd
        return self

    @staticmethod
    def check_free(run_dir: Path) -> None:
        """Refuse at once (naming the pid) when another process holds `run_dir`; creates no file."""
        path = Path(run_dir) / LOCK_NAME
        if not path.is_file():
            return
        with RunLock(run_dir):
            pass

    def _holder(self) -> str:
        try:
            return self.path.read_text(encoding="ascii", errors="replace").strip() or "unknown"
        except OSError:
            return "unknown"

    def __exit__(self, *exc_info) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock; the file stays (removing it would race)
            self.fd = None


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back until the block ends, then deliver them to their own handlers: what
    the block writes and what it counts change together, so a stop never names the epoch before the one on disk.

    The handlers are swapped for a recorder rather than the signals masked: a mask is per thread, and a signal
    that a BLAS thread receives would still trip Python's handler in the main thread."""
    import signal

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    caught: list[int] = []
    previous = {number: signal.signal(number, lambda received, frame: caught.append(received))
                for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
                if signal.getsignal(number) not in (None, signal.SIG_IGN)}  # an ignored signal stays ignored
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for received in dict.fromkeys(caught):
            signal.raise_signal(received)


def fingerprint(config: dict) -> str:
    """SHA-256 of the resolved configuration (canonical JSON): what a checkpoint was trained with.

    Keys added after a checkpoint format was in use are left out while they hold their neutral
    value (no augmentation, test once at the end, the CPU), so older run folders still resume.
    """
    hashed = dict(config)
    if not hashed.get("augment", {}).get("transforms"):
        hashed.pop("augment", None)
    elif "erase" not in hashed["augment"]["transforms"]:  # erasing's settings came later
        hashed["augment"] = {k: v for k, v in hashed["augment"].items() if k not in augment.ERASE_KEYS}
    neutral = {"test_each_epoch": False, "device": "cpu"}
    if "train" in hashed:
        hashed["train"] = {k: v for k, v in hashed["train"].items() if k not in neutral or v != neutral[k]}
    return hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()


def remove_stale_parts(run_dir: Path) -> int:
    """Delete `.NAME.PID.HEX.part` files left by writes that were killed; returns how many. Hold the lock.

    Only barenet's own temp names: a user's `.download.part` in the folder is not barenet's to delete."""
    removed = 0
    for part in Path(run_dir).glob(".*.part"):
        if is_temp_file(part) and part.is_file() and not part.is_symlink():
            part.unlink(missing_ok=True)
            removed += 1
    return removed


def check_progress(progress, path) -> None:
    """ModelFileError (one line) unless `progress` is a Trainer progress a run can continue from."""
    error = _error(path)
    check_table(progress, PROGRESS, "extra.", error, "checkpoint key")
    missing = [key for key in REQUIRED if key not in progress]
    if missing:
        raise ModelFileError(f"{path} lacks {', '.join(missing)} in its progress: the checkpoint is damaged; "
                             f"delete it to start the run again")
    epochs = progress["history_epochs"]
    if len(epochs) != progress["epoch"]:
        raise ModelFileError(f"{path} says {progress['epoch']} epochs are done but its history holds "
                             f"{len(epochs)}: the checkpoint is damaged")
    for metric, values in progress["history"].items():
        if not isinstance(values, list) or len(values) != len(epochs) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ModelFileError(f"{path}: history {metric!r} is not one number per epoch: the checkpoint is damaged")
    _check_callbacks(progress.get("callbacks", {}), path)
    _check_generator(progress["rng"], path, "random-generator")
    for index, state in progress.get("layers_random", {}).items():
        if not str(index).isdigit() or not isinstance(state, dict) or set(state) != set(LAYER_RANDOM):
            raise ModelFileError(f"{path} has an invalid random state for layer {printable(str(index), 20)}: "
                                 f"the checkpoint is damaged")
        check_table(state, LAYER_RANDOM, f"extra.layers_random.{index}.", error, "checkpoint key")
    if "augment" in progress:
        _check_generator(progress["augment"].get("rng"), path, "augmentation's random-generator")


def check_optimizer_state(model, progress: dict, path) -> None:
    """A checkpoint past epoch 0 must hold its optimizer's state: refused (never resumed on a fresh optimizer).

    Every checkpoint a run writes holds it (one is written after each epoch, so the optimizer has stepped);
    without it momentum, Adam's moments and the step count would restart, and the run would end elsewhere
    than an uninterrupted one while claiming to be its continuation."""
    optimizer = getattr(model, "optimizer", None)
    if progress["epoch"] > 0 and (optimizer is None or not optimizer.state):
        raise ModelFileError(f"{path} holds no optimizer state (momentum, moments, step count), so the run cannot "
                             f"continue as if never stopped: delete the checkpoint to start the run again")


def _check_generator(state, path, what: str) -> None:
    try:
        np.random.default_rng().bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ModelFileError(f"{path} has an invalid {what} state ({exc}): the checkpoint is damaged") from None


def _check_callbacks(states: dict, path) -> None:
    """Each callback's saved state a table; EarlyStopping's: a number `best`, a count `wait`, an epoch or null."""
    for name, state in states.items():
        if not isinstance(state, dict):
            raise ModelFileError(f"{path}: the saved state of callback {printable(name, 60)!r} is not a table: the "
                                 f"checkpoint is damaged")
    _check_doctor(states.get("Doctor"), path)
    early = states.get("EarlyStopping")
    if early is None:
        return
    best, wait, epoch = early.get("best"), early.get("wait"), early.get("best_epoch")
    fine = (kind_of(best) in (INT, NUMBER) and kind_of(wait) == INT and wait >= 0
            and (epoch is None or (kind_of(epoch) == INT and epoch >= 0)))
    if not fine:
        raise ModelFileError(f"{path}: the saved early-stopping state {printable(repr(early), 80)} is not "
                             f"(best, wait, best_epoch): the checkpoint is damaged")


def _check_doctor(state: dict | None, path) -> None:
    """The training doctor's saved state: a list of diagnoses, each with a code, severity, epoch, step, message."""
    if state is None:
        return
    try:
        for item in state.get("diagnoses", []):
            Diagnosis.from_dict(item)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ModelFileError(f"{path}: the training doctor's saved diagnoses are not (code, severity, epoch, step, "
                             f"message): the checkpoint is damaged") from None


def _error(path):
    class _PathError(ModelFileError):
        def __init__(self, message: str):
            super().__init__(f"{path}: {message}")

    return _PathError


