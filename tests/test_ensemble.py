"""`barenet ensemble`: the committee's probabilities are the mean of its members'."""

import json

import numpy as np
import pytest

import barenet as bn
from clihelpers import assert_user_error, barenet
from helpers import mnist_dir, needs

pytestmark = needs("mnist")


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    folder = tmp_path_factory.mktemp("committee")
    paths = []
    for seed in (0, 1, 2):
        out = folder / f"s{seed}"
        result = barenet("train", "--subset", "2000", "--epochs", "1", "--layers", "784,32,10", "--seed", seed,
                         "--out", out, "--quiet")
        assert result.returncode == 0, result.stderr
        paths.append(out / "model.safetensors")
    return paths


def test_committee_accuracy_is_that_of_the_mean_probabilities(members):
    result = barenet("ensemble", *members, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    test = bn.datasets.load("mnist", data_dir=mnist_dir()).test
    probas = [bn.load(path).predict_proba(test.x.reshape(len(test.x), -1)) for path in members]
    want = float((np.mean(probas, axis=0).argmax(axis=1) == test.y).mean())
    assert report["accuracy"] == pytest.approx(want, abs=1e-4) and report["models"] == 3
    mean = np.mean(probas, axis=0)
    assert report["log_loss"] == pytest.approx(-np.log(mean[np.arange(len(test.y)), test.y]).mean(), rel=1e-4)
    singles = [float((p.argmax(axis=1) == test.y).mean()) for p in probas]
    assert [m["accuracy"] for m in report["members"]] == pytest.approx(singles, abs=1e-4)


def test_table_and_mismatched_members(members, tmp_path):
    result = barenet("ensemble", *members)
    assert result.returncode == 0, result.stderr
    assert "committee of 3" in result.stdout
    other = tmp_path / "o"
    trained = barenet("train", "--subset", "500", "--epochs", "1", "--layers", "784,8,10", "--validation", "0",
                      "--out", other, "--quiet")
    assert trained.returncode == 0, trained.stderr
    ok = barenet("ensemble", members[0], other / "model.safetensors")
    assert ok.returncode == 0, ok.stderr  # other layers, same data: a fine committee
    assert_user_error(barenet("ensemble", members[0], tmp_path / "missing.safetensors"), "missing.safetensors")


def test_committee_on_the_validation_split_the_members_held_out(members):
    result = barenet("ensemble", *members, "--on", "validation", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    held = bn.datasets.load("mnist", data_dir=mnist_dir(), validation=5000).validation
    probas = [bn.load(path).predict_proba(held.x.reshape(len(held.x), -1)) for path in members]
    want = float((np.mean(probas, axis=0).argmax(axis=1) == held.y).mean())
    assert report["split"] == "validation" and report["images"] == 5000
    assert report["accuracy"] == pytest.approx(want, abs=1e-4)
    assert "test_images" not in report
    table = barenet("ensemble", *members, "--on", "validation")
    assert table.returncode == 0 and "validation split (the last 5,000 training images)" in table.stdout


def test_validation_committee_refuses_members_without_one_shared_split(members, tmp_path):
    whole = tmp_path / "whole"
    trained = barenet("train", "--subset", "500", "--epochs", "1", "--layers", "784,8,10", "--validation", "0",
                      "--out", whole, "--quiet")
    assert trained.returncode == 0, trained.stderr
    assert_user_error(barenet("ensemble", whole / "model.safetensors", "--on", "validation"), "data.validation = 0")
    assert_user_error(barenet("ensemble", members[0], whole / "model.safetensors", "--on", "validation"),
                      "different validation splits")
    assert_user_error(barenet("ensemble", *members, "--validation", "5000"), "--on validation")
    old = tmp_path / "old.safetensors"
    model = bn.load(members[0])
    model.save(old, extra={k: v for k, v in model.extra.items() if k != "validation"})
    assert_user_error(barenet("ensemble", old, "--on", "validation"), "--validation N")
    declared = barenet("ensemble", old, members[1], "--on", "validation", "--validation", "5000")
    assert declared.returncode == 0, declared.stderr


def test_a_committee_below_its_best_member_says_so(mnist_model_file, tmp_path):
    """One trained member and two confidently wrong ones (untrained weights scaled up): the mean is worse than the
    trained member alone, and the report says so, naming the member."""
    good = bn.load(mnist_model_file)
    noisy = []
    for seed in (1, 2):
        model = bn.MLP([784, 128, 64, 10], seed=seed)
        model.set_weights([w * 40 for w in model.get_weights()])
        noisy.append(tmp_path / f"noise{seed}.safetensors")
        model.save(noisy[-1], extra=good.extra)
    result = barenet("ensemble", mnist_model_file, *noisy, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    best = max(report["members"], key=lambda row: row["accuracy"])
    assert report["accuracy"] < best["accuracy"] and best["model"] == str(mnist_model_file)
    assert report["best_member"] == {"model": best["model"], "accuracy": best["accuracy"]}
    assert report["below_best_member"] is True
    table = barenet("ensemble", mnist_model_file, *noisy)
    assert table.returncode == 0, table.stderr
    note = table.stdout.strip().splitlines()[-1]
    assert "below its best member" in note and mnist_model_file.name in note and "--on validation" in note
