"""A run folder under stress: signals stop a run cleanly naming what is saved, divergence is caught for every
optimizer without claiming a checkpoint that does not exist, and a finished run resumes to its reports only."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from clihelpers import assert_user_error, barenet, cli_env
from helpers import mnist_dir

pytestmark = pytest.mark.skipif(mnist_dir() is None, reason="real MNIST not found beside the repository")

ARGS = ["--subset", "1000", "--epochs", "3", "--batch-size", "10", "--layers", "784,16,10", "--quiet"]
STEPS_PER_EPOCH = 1000 // 10
# The run signals itself at a fixed step of its second epoch (after one checkpoint), as `kill` would. The
# handlers start as in an interactive shell: a background or nohup parent may have left the signals ignored,
# and barenet (rightly) keeps an ignored signal ignored.
SIGNALLER = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.signal(signal.SIGHUP, signal.SIG_DFL)
from barenet.cli import main
from barenet.training.trainer import Trainer
step = Trainer._step
def signalling_step(self, *args):
    if self.model.optimizer.iterations == {step}:
        os.kill(os.getpid(), {number})
    return step(self, *args)
Trainer._step = signalling_step
sys.exit(main(sys.argv[1:]))
"""


def saved_epoch(run_dir) -> int:
    with safe_open(str(run_dir / "checkpoint.safetensors"), framework="numpy") as handle:
        return json.loads(handle.metadata()["barenet"])["extra"]["epoch"]


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_stops_the_run_naming_the_saved_epoch_and_the_resume_command(tmp_path, name):
    number = getattr(signal, name)
    run_dir = tmp_path / "run"
    code = SIGNALLER.format(step=STEPS_PER_EPOCH + 30, number=int(number))
    result = subprocess.run([sys.executable, "-c", code, "train", *ARGS, "--out", str(run_dir)], env=cli_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 128 + number, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"barenet: stopped by {name}: epoch 1 of 3 is saved in {run_dir}; resume with: barenet train --resume "
        f"{run_dir}"]
    assert saved_epoch(run_dir) == 1 and not list(run_dir.glob(".*.part"))

    (run_dir / ".checkpoint.safetensors.1.deadbeef.part").write_bytes(bytes(1000))  # as a kill -9 would leave
    resumed = barenet("train", "--resume", run_dir, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert saved_epoch(run_dir) == 3 and not list(run_dir.glob(".*.part"))


def test_resuming_a_finished_run_prints_no_empty_table_and_honest_times(tmp_path):
    run_dir = tmp_path / "done"
    assert barenet("train", *ARGS, "--out", run_dir).returncode == 0
    again = barenet("train", "--resume", run_dir)
    assert again.returncode == 0, again.stderr
    assert "already finished its 3 epochs" in again.stdout
    assert "epoch  seconds" not in again.stdout
    assert "over all sessions, this session" in again.stdout


@pytest.mark.parametrize("optimizer, lr", [("adam", "1e6"), ("adamw", "1e4"), ("rmsprop", "1e4"), ("sgd", "1e36")])
def test_divergence_is_caught_for_every_optimizer_without_claiming_a_checkpoint(tmp_path, optimizer, lr):
    run_dir = tmp_path / "diverged"
    result = barenet("train", *ARGS, "--optimizer", optimizer, "--lr", lr, "--out", run_dir)
    assert_user_error(result, "lower the learning rate", "no epoch finished", "holds no checkpoint")
    assert not (run_dir / "checkpoint.safetensors").exists()


def test_a_full_disk_during_training_is_one_line_and_leaves_no_temp_file(tmp_path):
    """RLIMIT_FSIZE (with SIGXFSZ ignored) makes the first checkpoint fail as a full disk would."""
    import resource

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    run_dir = tmp_path / "full"
    args = ["train", "--subset", "1000", "--epochs", "2", "--layers", "784,16,10", "--quiet", "--out", str(run_dir)]
    from clihelpers import command

    result = subprocess.run([*command(), *args], env=cli_env(), capture_output=True, text=True, timeout=300,
                            preexec_fn=small_files)
    assert_user_error(result, "cannot write", "File too large")
    assert not list(run_dir.glob(".*.part"))


def test_a_signal_between_the_checkpoint_and_its_count_names_the_epoch_on_disk(tmp_path, monkeypatch):
    """SIGINT right after epoch 2's checkpoint is written: the stop names epoch 2, the one on disk."""
    import os

    from barenet.errors import Interrupted
    from barenet.models.sequential import Sequential
    from barenet.runs import config as cfg
    from barenet.runs import prepared, run
    from helpers import run_dataset

    rng = np.random.default_rng(0)
    monkeypatch.setattr(prepared, "load_data", lambda config: run_dataset(rng.integers(0, 256, (600, 784), np.uint8),
                                                                     rng.integers(0, 10, 600)))
    save = Sequential.save

    def save_then_signal(self, path, *args, **kwargs):
        save(self, path, *args, **kwargs)
        if Path(path).name == "checkpoint.safetensors" and saved_epoch(Path(path).parent) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # lands before the run has counted epoch 2 as saved

    monkeypatch.setattr(Sequential, "save", save_then_signal)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        config = cfg.resolve(overrides={"train.epochs": 3, "model.layers": [784, 8, 10], "train.batch_size": 100})
        with pytest.raises(Interrupted, match="epoch 2 of 3 is saved"):
            run.run(config, out=tmp_path / "run", quiet=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert saved_epoch(tmp_path / "run") == 2
