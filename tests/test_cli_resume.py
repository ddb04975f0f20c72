"""A run killed with SIGKILL mid-epoch resumes to the same weights as a run never interrupted
(augmentation included: its generator's state is part of every checkpoint)."""

import csv
import signal
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file

from clihelpers import barenet, cli_env
from helpers import needs

pytestmark = needs("mnist")

ARGS = ["--subset", "6000", "--epochs", "3", "--batch-size", "4", "--dropout", "0.2", "--layers", "784,64,10",
        "--lr", "0.01", "--schedule", "cosine", "--augment", "affine,elastic", "--quiet"]


# The run kills itself with SIGKILL at a fixed step of the second epoch, after the first checkpoint was written:
# a kill by the clock would race a fast machine, which can finish all three epochs in a fraction of a second.
STEPS_PER_EPOCH = 6000 // 4
KILL_AT_STEP = STEPS_PER_EPOCH + 700
KILLER = f"""
import os, signal, sys
from barenet.cli import main
from barenet.training.trainer import Trainer
step = Trainer._step
def counting_step(self, *args):
    if self.model.optimizer.iterations == {KILL_AT_STEP}:
        os.kill(os.getpid(), signal.SIGKILL)
    return step(self, *args)
Trainer._step = counting_step
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    killed = tmp_path / "killed"
    process = subprocess.run([sys.executable, "-c", KILLER, "train", *ARGS, "--out", str(killed)], env=cli_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
    assert process.returncode == -signal.SIGKILL, process.stderr
    assert (killed / "checkpoint.safetensors").exists(), "no checkpoint after the first epoch"
    assert not (killed / "model.safetensors").exists()
    with open(killed / "metrics.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 1, "the kill came in the second epoch, after one checkpoint"

    resumed = barenet("train", "--resume", killed, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    straight = barenet("train", *ARGS, "--out", tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr

    a, b = load_file(killed / "model.safetensors"), load_file(tmp_path / "straight" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    rows = []
    for folder in (killed, tmp_path / "straight"):
        with open(folder / "metrics.csv") as handle:
            rows.append([{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)])
    assert len(rows[0]) == 3 and rows[0] == rows[1]
    assert float(rows[0][-1]["val_accuracy"]) > 0.8
