import csv

import pytest

from barenet.apps.grid import combinations
from barenet.apps.outcome import classify
from barenet.cli.grid import parse_param, split_values
from barenet.errors import ConfigError
from clihelpers import barenet
from helpers import with_data


def test_param_parsing_keeps_lists_whole():
    assert split_values("[784,64,10],[784,128,10]") == ["[784,64,10]", "[784,128,10]"]
    assert parse_param("model.layers=[784,64,10],[784,32,10]") == ("model.layers", [[784, 64, 10], [784, 32, 10]])
    assert parse_param("optimizer.lr=0.1,1e-3") == ("optimizer.lr", [0.1, 0.001])
    assert parse_param("model.activation=relu,tanh") == ("model.activation", ["relu", "tanh"])
    with pytest.raises(ConfigError):
        parse_param("optimizer.lr")


def test_combinations_cover_the_product():
    combos = combinations({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(combos) == 6 and combos[0] == {"a": 1, "b": "x"} and combos[-1] == {"a": 2, "b": "z"}


@with_data("mnist")
def test_grid_command_writes_table_and_plot(tmp_path):
    out = tmp_path / "grid"
    result = barenet("grid", "--param", "optimizer.lr=0.1,0.001", "--param", "model.layers=[784,16,10],[784,32,10]",
                     "--set", "data.subset=1000", "--set", "train.epochs=2", "--workers", "2", "--out", out)
    assert result.returncode == 0, result.stderr
    with open(out / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and all(r["status"] == classify(float(r["val_accuracy"]), 10) for r in rows)
    assert {r["status"] for r in rows if r["optimizer.lr"] == "0.1"} == {"ok"}
    assert "collapsed" in {r["status"] for r in rows}  # lr 0.001 for 2 epochs ends near chance: not "ok"
    by_lr = {}
    for r in rows:
        by_lr.setdefault(r["optimizer.lr"], []).append(float(r["test_accuracy"]))
    assert max(by_lr["0.1"]) > max(by_lr["0.001"])  # a learning rate 100x smaller learns less in 2 epochs
    assert (out / "grid.png").stat().st_size > 1000 and (out / "results.md").exists()
    assert "val acc" in result.stdout and "test acc" in result.stdout
    ranked = (out / "results.md").read_text().splitlines()
    assert ranked[0] == "Ranked by val accuracy."  # chosen on validation, never on the test set
    vals = [float(line.split("|")[3].strip(" %")) for line in ranked[4:] if "| ok |" in line]
    assert vals == sorted(vals, reverse=True) and len(vals) >= 2
    assert len(list(out.glob("00*"))) == 4


def test_grid_rejects_bad_keys(tmp_path):
    result = barenet("grid", "--param", "optimizer.lrr=0.1,0.2", "--param", "train.epoch=1,2", "--out", tmp_path / "g")
    assert result.returncode == 2 and "unknown config key" in result.stderr
