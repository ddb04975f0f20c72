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
