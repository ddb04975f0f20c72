"""`barenet runs` and `barenet runs compare`: past run folders, listed and compared (made by hand here)."""

import json
import os

import pytest

from barenet.cli import main
from barenet.runs import config as cfg
from barenet.runs.history import config_diff, find_run, list_runs


def make_run(root, name, overrides, accuracies, finished=True, mtime=None):
    config = cfg.resolve(recipe="mnist", overrides=overrides)
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(cfg.to_toml(config))
    lines = ["epoch,seconds,loss,accuracy,test_loss,test_accuracy,lr"]
    lines += [f"{i + 1},1.5,{1 - acc:.3f},{acc},{1.1 - acc:.3f},{acc - 0.01},0.1" for i, acc in enumerate(accuracies)]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    if finished:
        (folder / "summary.json").write_text(json.dumps({"test_accuracy": accuracies[-1] - 0.01, "train_seconds": 4.5,
                                                         "epochs_run": len(accuracies)}))
    if mtime is not None:
        os.utime(folder / "config.toml", (mtime, mtime))
    return folder


@pytest.fixture
def two_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = make_run(tmp_path / "runs", "20260101-120000-mnist", {}, [0.9, 0.95, 0.97], mtime=1_700_000_000)
    b = make_run(tmp_path / "runs", "20260102-120000-mnist+784x64x10", {"model.layers": [784, 64, 10],
                 "optimizer.lr": 0.05}, [0.85, 0.9], finished=False, mtime=1_700_100_000)
    (tmp_path / "runs" / "not-a-run").mkdir()
    return a, b


def test_runs_lists_every_run_folder_oldest_first(two_runs, capsys):
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["started", "run", "recipe", "dataset", "layers", "epochs", "test", "acc", "train", "s",
                                 "doctor"]
    assert "20260101-120000-mnist" in lines[1] and "784x256x128x10" in lines[1] and "96.00%" in lines[1]
    assert "784x64x10" in lines[2] and "2/10" in lines[2] and "unfinished" in lines[2]
    assert len(lines) == 3  # the folder without config.toml is not a run


def test_runs_with_no_runs_says_how_to_make_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["runs"]) == 0
    assert "barenet train" in capsys.readouterr().out


def test_compare_prints_the_differences_and_draws_both_runs(two_runs, tmp_path, capsys):
    assert main(["runs", "compare", "120000-mnist+", "20260101", "--out", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert "model.layers  [784, 64, 10]  |  [784, 256, 128, 10]" in out
    assert "optimizer.lr  0.05  |  0.1" in out and "name" not in out.split("\n")[1]
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert main(["runs", "compare", "mnist", "20260101", "--out", str(tmp_path / "c.png")]) == 2  # ambiguous
    assert "matches 2 runs" in capsys.readouterr().err
    assert main(["runs", "compare", "20260102", "20260101", "--out", str(tmp_path / "c.png")]) == 2  # exists
    assert "--force" in capsys.readouterr().err


def test_find_run_takes_a_path_a_name_or_part_of_one(two_runs):
    a, b = two_runs
    assert find_run("runs", str(a)) == a and find_run("runs", a.name).resolve() == a
    assert find_run("runs", "64x10").resolve() == b
    with pytest.raises(Exception, match="no run folder"):
        find_run("runs", "nothing-like-it")


def test_config_diff_lists_changed_added_and_removed_keys():
    diff = config_diff({"a": {"x": 1, "y": 2}, "n": "m"}, {"a": {"x": 1, "y": 3, "z": 0}, "n": "m"})
    assert diff == [("a.y", 2, 3), ("a.z", "(absent)", 0)]
    assert list_runs("/nonexistent") == []


def test_runs_finds_runs_nested_in_grid_and_sweep_folders(two_runs, tmp_path, capsys):
    make_run(tmp_path / "runs" / "grid-lr", "optimizer.lr=0.3", {"optimizer.lr": 0.3}, [0.8, 0.9])
    make_run(tmp_path / "runs" / "sweep-mnist" / "trials", "0003", {"train.batch_size": 32}, [0.9, 0.96])
    (tmp_path / "runs" / "sweep-mnist" / "results.csv").write_text("trial,status\n")
    rows = list_runs("runs")
    assert [str(row["folder"].relative_to("runs")) for row in rows][:2] == \
        ["20260101-120000-mnist", "20260102-120000-mnist+784x64x10"]
    names = {str(row["folder"].relative_to("runs")) for row in rows}
    assert {"grid-lr/optimizer.lr=0.3", "sweep-mnist/trials/0003"} <= names and len(names) == 4
    assert main(["runs"]) == 0
    listed = capsys.readouterr().out
    assert "grid-lr/optimizer.lr=0.3" in listed and "sweep-mnist/trials/0003" in listed
    assert find_run("runs", "trials/0003").name == "0003"


def test_compare_writes_beside_the_runs_and_again_without_refusing(two_runs, tmp_path, monkeypatch, capsys):
    a, b = two_runs
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    first = main(["runs", "compare", str(a), str(b)])
    written = tmp_path / "runs" / f"compare-{a.name}-vs-{b.name}.png"
    assert first == 0 and written.stat().st_size > 1000, capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []  # nothing in the current folder
    assert f"curves: {written}" in capsys.readouterr().out
    assert main(["runs", "compare", str(a), str(b)]) == 0  # a second time: a fresh name, nothing refused or lost
    again = tmp_path / "runs" / f"compare-{a.name}-vs-{b.name}-2.png"
    assert again.is_file() and written.is_file() and f"curves: {again}" in capsys.readouterr().out


def test_a_linked_run_is_listed_and_a_linked_loop_is_not_followed(two_runs, tmp_path):
    a, _ = two_runs
    (tmp_path / "runs" / "linked").symlink_to(a, target_is_directory=True)
    (tmp_path / "runs" / "sweep-x").mkdir()
    (tmp_path / "runs" / "sweep-x" / "loop").symlink_to(tmp_path / "runs", target_is_directory=True)
    names = sorted(str(row["folder"].relative_to("runs")) for row in list_runs("runs"))
    assert names == ["20260101-120000-mnist", "20260102-120000-mnist+784x64x10", "linked"]
