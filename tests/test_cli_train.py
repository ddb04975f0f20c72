"""`barenet train`, `evaluate`, `predict`, `recipes` through the real console script."""

import csv
import json

import numpy as np
import pytest
from safetensors.numpy import load_file

import barenet as bn
from clihelpers import barenet, cli_env
from helpers import data_file, mnist_dir, needs

pytestmark = needs("mnist")

SHORT = ["--subset", "6000", "--epochs", "3", "--dropout", "0.1", "--seed", "3"]
ARTIFACTS = {"config.toml", "model.safetensors", "metrics.csv", "summary.json", "checkpoint.safetensors",
             "learning_curves.png", "confusion_matrix.png", "misclassified.png", "first_layer_weights.png"}


@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "a"
    result = barenet("train", *SHORT, "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result


def test_short_run_writes_every_artifact(run_a):
    out, result = run_a
    assert ARTIFACTS <= {p.name for p in out.iterdir()}
    from PIL import Image

    for png in out.glob("*.png"):
        with Image.open(png) as image:
            image.verify()
            assert image.format == "PNG"
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"seconds", "loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(rows[0])
    assert not {"test_loss", "test_accuracy"} & set(rows[0]), "the test set is evaluated once, at the end"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_run"] == 3 and summary["test_accuracy"] > 0.85
    best = max(rows, key=lambda row: float(row["val_accuracy"]))
    assert summary["best_val_epoch"] == int(best["epoch"])
    assert summary["best_val_accuracy"] == float(best["val_accuracy"])
    extra = bn.load(out / "model.safetensors").extra  # what `barenet serve` shows about the model
    assert extra["name"] == summary["name"] and extra["test_accuracy"] == summary["test_accuracy"]
    assert "test accuracy" in result.stdout and str(out) in result.stdout
    header = next(line for line in result.stdout.splitlines() if line.strip().startswith("epoch"))
    assert header.split() == ["epoch", "seconds", "loss", "accuracy", "val", "loss", "val", "acc", "lr"]
    assert "validation 5,000" in result.stdout and "test once at the end" in result.stdout


@pytest.mark.parametrize("validation, heads", [("0", ["test"]), ("1000", ["val", "test"])])
def test_test_metrics_every_epoch_only_when_asked(tmp_path, validation, heads):
    result = barenet("train", "--subset", "2000", "--epochs", "2", "--layers", "784,32,10", "--validation", validation,
                     "--test-each-epoch", "--out", tmp_path / "t")
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.strip().startswith("epoch")).split()
    assert header == ["epoch", "seconds", "loss", "accuracy", *[w for h in heads for w in (h, "loss", h, "acc")], "lr"]
    with open(tmp_path / "t" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {f"{h}_accuracy" for h in heads} <= set(rows[0]) and len(rows) == 2
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert float(rows[-1]["test_accuracy"]) == summary["test_accuracy"]


def test_config_toml_reproduces_the_run(run_a, tmp_path):
    out, _ = run_a
    result = barenet("train", "--config", out / "config.toml", "--out", tmp_path / "b", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    a, b = load_file(out / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (out, tmp_path / "b"))
    assert sa["test_accuracy"] == sb["test_accuracy"]


def test_json_summary_on_stdout(tmp_path):
    result = barenet("train", "--subset", "1000", "--epochs", "1", "--layers", "784,32,10", "--json",
                     "--out", tmp_path / "j")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["epochs_run"] == 1 and 0 < summary["test_accuracy"] <= 1
    assert result.stderr == ""  # no table, no progress: only the JSON
    assert [row["class"] for row in summary["per_class"]] == [str(digit) for digit in range(10)]
    assert summary["backend"]["device"] == "cpu" and summary["backend"]["kernels"] == "fused"
    assert summary["backend"]["gemm"].split()[0] in ("numpy", "mkl") and summary["backend"]["subnormals"]


def test_evaluate_prints_per_class_table(run_a, tmp_path):
    out, _ = run_a
    plot = tmp_path / "cm.png"
    result = barenet("evaluate", out / "model.safetensors", "--plot", plot)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert f"accuracy {summary['test_accuracy']:.2%}" in result.stdout
    assert "precision" in result.stdout and "macro avg" in result.stdout
    assert plot.stat().st_size > 1000


def test_evaluate_finds_the_data_folder_the_model_was_trained_with(tmp_path):
    env = {k: v for k, v in cli_env(XDG_CACHE_HOME=str(tmp_path / "empty-cache")).items() if k != "BARENET_DATA_DIR"}
    out = tmp_path / "r"
    trained = barenet("train", "--subset", "500", "--epochs", "1", "--layers", "784,16,10", "--data-dir",
                      mnist_dir(), "--out", out, "--quiet", env=env)
    assert trained.returncode == 0, trained.stderr
    result = barenet("evaluate", out / "model.safetensors", env=env)
    assert result.returncode == 0, result.stderr
    assert "mnist test set: 10,000 images" in result.stdout
    (out / "model.safetensors").rename(out / "copy.safetensors")  # the metadata alone is enough
    (out / "config.toml").unlink()
    assert barenet("evaluate", out / "copy.safetensors", env=env).returncode == 0


def test_predict_on_a_batch_file(run_a, tmp_path):
    from barenet.data import read_idx

    out, _ = run_a
    images = read_idx(data_file("mnist", "t10k-images-idx3-ubyte"))[:50]
    np.save(tmp_path / "batch.npy", images)
    result = barenet("predict", out / "model.safetensors", tmp_path / "batch.npy", "--output", tmp_path / "p.csv")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "p.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 50 and set(rows[0]) == {"source", "index", "prediction", "probability"}
    labels = read_idx(data_file("mnist", "t10k-labels-idx1-ubyte"))[:50]
    assert np.mean([int(r["prediction"]) == label for r, label in zip(rows, labels)]) > 0.8


def test_recipes_list_and_show():
    listing = barenet("recipes", "list")
    assert listing.returncode == 0 and "mnist" in listing.stdout
    shown = barenet("recipes", "show", "mnist")
    assert shown.returncode == 0 and "[optimizer]" in shown.stdout


def test_overrides_reach_the_config(tmp_path):
    result = barenet("train", "--subset", "500", "--epochs", "1", "--layers", "784,20,10", "--optimizer", "adam",
                     "--lr", "0.002", "--schedule", "cosine", "--batch-size", "full", "--activation", "tanh",
                     "--set", "optimizer.beta2=0.99", "--out", tmp_path / "o", "--quiet")
    assert result.returncode == 0, result.stderr
    import tomllib

    config = tomllib.loads((tmp_path / "o" / "config.toml").read_text())
    assert config["model"]["layers"] == [784, 20, 10] and config["model"]["activation"] == "tanh"
    assert config["optimizer"] == {"name": "adam", "lr": 0.002, "beta2": 0.99}
    assert config["train"]["batch_size"] == "full" and config["schedule"]["name"] == "cosine"
