"""A run killed with SIGKILL mid-epoch resumes to the same weights as a run never interrupted."""

import csv
import signal
import subprocess
import time

import numpy as np
import pytest
from safetensors.numpy import load_file

from clihelpers import barenet, cli_env, command
from helpers import mnist_dir

pytestmark = [pytest.mark.slow, pytest.mark.skipif(mnist_dir() is None, reason="real MNIST not found")]

ARGS = ["--subset", "6000", "--epochs", "3", "--batch-size", "4", "--dropout", "0.2", "--layers", "784,64,10",
        "--lr", "0.01", "--schedule", "cosine", "--quiet"]


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    killed = tmp_path / "killed"
    process = subprocess.Popen([*command(), "train", *ARGS, "--out", str(killed)], env=cli_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = killed / "checkpoint.safetensors"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert checkpoint.exists(), process.stderr.read() if process.poll() is not None else "no checkpoint in time"
    time.sleep(0.3)  # into the second epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed / "model.safetensors").exists(), "the run finished before it was killed"

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
    assert float(rows[0][-1]["test_accuracy"]) > 0.85
