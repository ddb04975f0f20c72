"""`resume(run_dir)`: continue an interrupted run (even one killed with SIGKILL) from its last checkpoint;
it ends with the same weights as an uninterrupted run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import ConfigError
from ..io.files import write_text
from ..io.readers import check_regular
from ..models import loading
from ..models.sequential import Sequential
from . import config as cfg
from .folder import CHECKPOINT, RunLock, check_progress, fingerprint, remove_stale_parts
from .prepared import prepare
from .run import train_in


def resume(run_dir, quiet: bool = False, stream=None, device: str | None = None) -> dict:
    """Continue the run in `run_dir` from its last checkpoint (or from the start if it has none).

    The folder is locked first; stale temp files are removed; the checkpoint must have been written
    with this very config.toml (its fingerprint), and its progress must be whole.
    device: finish on another device than config.toml names (a GPU lease ended: go on on the CPU);
    config.toml is rewritten to name it, and the numbers differ from an uninterrupted run's by rounding.
    """
    wall_start, stream = time.perf_counter(), stream or sys.stdout
    run_dir = Path(run_dir)
    config_path = run_dir / "config.toml"
    if not config_path.is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.toml): give the folder a training run wrote")
    with RunLock(run_dir):
        remove_stale_parts(run_dir)
        config = cfg.resolve(path=config_path)
        moved = cfg.with_overrides(config, {"train.device": device}) if device else config
        model, progress = _checkpoint(run_dir, config, moved["train"]["device"])
        if moved["train"]["device"] != config["train"]["device"]:
            _note_move(config["train"]["device"], moved["train"]["device"], quiet, stream)
            write_text(config_path, cfg.to_toml(moved))
        if progress is not None and progress["epoch"] >= config["train"]["epochs"] and not quiet:
            print(f"{run_dir} already finished its {progress['epoch']} epochs: writing the final reports",
                  file=stream)
        return train_in(prepare(moved, model), run_dir, progress, wall_start, quiet, stream)


def _note_move(old: str, new: str, quiet: bool, stream) -> None:
    if not quiet:
        print(f"resuming on {new} a run that trained on {old} (config.toml now says train.device = '{new}'): the "
              f"rest differs from an uninterrupted {old} run by rounding", file=stream)


def _checkpoint(run_dir: Path, config: dict, device: str) -> tuple[Sequential | None, dict | None]:
    """(model, progress) from the run's checkpoint, checked against config.toml, placed on `device`;
    (None, None) without one."""
    path = run_dir / CHECKPOINT
    if not (path.exists() or path.is_symlink()):
        return None, None
    check_regular(path, "checkpoint", ConfigError)
    model = loading.load(path, device=device)
    progress = checkpoint_progress(model.extra)
    check_progress(progress, path)
    saved = progress.pop("config_sha256", None)
    if saved is not None and saved != fingerprint(config):
        raise ConfigError(f"{run_dir}/config.toml is not the configuration {CHECKPOINT} was trained with (it was "
                          f"edited or replaced): restore it, or start a new run with --config")
    if saved is None and _sizes(model) != config["model"]["layers"]:
        raise ConfigError(f"{run_dir}/config.toml says layers {config['model']['layers']} but {CHECKPOINT} holds "
                          f"{_sizes(model)}: restore the config, or start a new run with --config")
    return model, progress


def _sizes(model: Sequential) -> list[int]:
    dense = [layer.params["W"].shape for layer in model.layers if "W" in layer.params]
    return [dense[0][0], *(shape[1] for shape in dense)] if dense else []


def checkpoint_progress(extra: dict) -> dict:
    """The Trainer progress a checkpoint holds; checkpoints written before the Trainer kept early stopping apart."""
    progress = dict(extra)
    if "early_stopping" in progress:
        progress["callbacks"] = {"EarlyStopping": progress.pop("early_stopping")}
    return progress
