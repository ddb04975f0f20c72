"""The training doctor in run folders: summary.json's diagnoses (also after divergence and Ctrl-C), health.csv
and health.png, resume, `barenet doctor` (new runs, runs from before the doctor, killed runs), `barenet runs`,
and the grid's record of each run's codes. Synthetic 28x28 data stands in for MNIST (fast)."""

import csv
import io
import json

import numpy as np
import pytest

from barenet.apps import grid
from barenet.cli import main
from barenet.errors import Interrupted, TrainingDiverged
from barenet.runs import config as cfg
from barenet.runs import prepared
from barenet.runs.health import HEALTH_CSV, read_health_csv
from barenet.runs.resume import resume
from barenet.runs.run import run
from barenet.training.callbacks import History
from barenet.training.diagnoses import Diagnosis
from helpers import run_dataset, stop_after_first_epoch


def synthetic_dataset(config):
    """400 training, 100 validation and 200 test images: noise with one bright pixel per class."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 10, 700)
    x = rng.integers(0, 120, (700, 784)).astype(np.uint8)
    x[np.arange(700), y * 70] = 255
    return run_dataset(x, y)


@pytest.fixture(autouse=True)
def synthetic_data(monkeypatch):
    monkeypatch.setattr(prepared, "load_data", synthetic_dataset)


def config(**overrides):
    base = {"train.epochs": 3, "model.layers": [784, 32, 10], "train.batch_size": 20, "data.scale": "none",
            "optimizer.lr": 1e-4}  # raw 0-255 pixels: the doctor's unscaled-inputs, at a learning rate that survives
    return cfg.resolve(overrides={**base, **overrides})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One run trained into a folder, shared by the tests that only read it: (folder, summary, what it printed)."""
    folder, stream = tmp_path_factory.mktemp("runs") / "r-unscaled", io.StringIO()
    with pytest.MonkeyPatch.context() as patch, pytest.warns(UserWarning):  # barenet's warning: unscaled floats
        patch.setattr(prepared, "load_data", synthetic_dataset)
        summary = run(config(), out=folder, stream=stream)
    return folder, summary, stream.getvalue()


def copied(folder, tmp_path):
    import shutil

    return shutil.copytree(folder, tmp_path / folder.name)


def codes(summary) -> list[str]:
    return [d["code"] for d in summary["diagnoses"]]


def test_a_run_keeps_its_health_and_its_summary_lists_the_diagnoses(finished):
    folder, summary, printed = finished
    assert "unscaled-inputs" in codes(summary) and summary["status"] == "finished"
    assert len(codes(summary)) == len(set(codes(summary)))  # each once
    first = Diagnosis.from_dict(summary["diagnoses"][0])
    assert first.code == "unscaled-inputs" and first.epoch == 1 and first.step >= 1
    assert json.loads((folder / "summary.json").read_text())["diagnoses"] == summary["diagnoses"]
    assert {"health.csv", "health.png"} <= set(summary["files"])
    assert (folder / "health.png").stat().st_size > 10_000
    rows = read_health_csv(folder / HEALTH_CSV)
    assert {row["layer"] for row in rows} == {0, 1, 2} and {row["epoch"] for row in rows} == {1, 2, 3}
    assert max(row["max"] for row in rows if row["layer"] == 0) == 255.0
    assert printed.count(first.line()) == 2  # as it fired, and again at the end
    assert "the training doctor found" in printed


def test_a_diverged_run_writes_its_summary_with_the_diagnoses_so_far(tmp_path):
    with pytest.raises(TrainingDiverged) as caught, pytest.warns(UserWarning):
        run(config(**{"optimizer.lr": 100.0}), out=tmp_path / "r", quiet=True)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["stopped"] == str(caught.value)
    assert "lr-too-high" in codes(summary) and "test_accuracy" not in summary
    assert [d.code for d in caught.value.history.diagnoses] == codes(summary)
    assert (tmp_path / "r" / HEALTH_CSV).is_file()


def test_an_interrupted_run_writes_its_summary_and_resume_goes_on_with_its_health(tmp_path):
    folder = tmp_path / "r"
    with pytest.raises(Interrupted), pytest.warns(UserWarning):
        run(config(), out=folder, quiet=True, callbacks=[stop_after_first_epoch()])
    stopped = json.loads((folder / "summary.json").read_text())
    assert stopped["status"] == "interrupted" and "resume with" in stopped["stopped"]
    assert "unscaled-inputs" in codes(stopped)
    with pytest.warns(UserWarning):
        done = resume(folder, quiet=True)
    assert done["status"] == "finished" and done["diagnoses"][:len(codes(stopped))] == stopped["diagnoses"]
    assert len(codes(done)) == len(set(codes(done)))
    steps = [row["step"] for row in read_health_csv(folder / HEALTH_CSV) if row["layer"] == 0]
    assert steps == sorted(set(steps)) and len(steps) == 3 * len([s for s in steps if s <= 20])


def test_barenet_doctor_prints_the_diagnoses_and_the_health_plot(finished, capsys):
    folder = finished[0]
    assert main(["doctor", str(folder)]) == 1  # a problem found
    out = capsys.readouterr().out
    assert "problem(s)" in out and "from summary.json" in out and "diagnosis (problem, epoch 1): inputs reach" in out
    assert f"health plot: {folder / 'health.png'}" in out
    assert main(["doctor", str(folder), "--json"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["diagnoses"][0]["code"] == "unscaled-inputs" and found["health_plot"].endswith("health.png")


def old_run(folder, accuracies, val_losses):
    """A run folder as barenet wrote it before the doctor: config.toml, metrics.csv, a summary without diagnoses."""
    folder.mkdir()
    (folder / "config.toml").write_text(cfg.to_toml(cfg.resolve(recipe="mnist")))
    with open(folder / "metrics.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "seconds", "loss", "accuracy", "val_loss", "val_accuracy", "lr"])
        for epoch, (accuracy, val) in enumerate(zip(accuracies, val_losses), start=1):
            writer.writerow([epoch, 1.0, 2.3 - 0.01 * epoch, accuracy, val, accuracy, 0.1])
    (folder / "summary.json").write_text(json.dumps({"name": "mnist", "test_accuracy": accuracies[-1],
                                                     "epochs_run": len(accuracies), "train_seconds": 4.0}))


def test_barenet_doctor_reads_a_run_from_before_the_doctor_from_its_metrics(tmp_path, capsys):
    old_run(tmp_path / "stuck", [0.10, 0.11, 0.10, 0.10], [2.3, 2.4, 2.5, 2.6])
    assert main(["doctor", str(tmp_path / "stuck")]) == 1
    out = capsys.readouterr().out
    assert "metrics.csv alone" in out and "stuck-at-chance" not in out  # the codes are not printed, the lines are
    assert "training accuracy is 10.0% after epoch 1" in out and "validation loss is 13% above its best" in out
    assert "health plot: none" in out
    old_run(tmp_path / "fine", [0.9, 0.95, 0.97, 0.98], [0.3, 0.2, 0.15, 0.12])
    assert main(["doctor", str(tmp_path / "fine")]) == 0
    assert "no problems found" in capsys.readouterr().out


def test_barenet_doctor_replays_a_run_killed_before_its_summary(finished, tmp_path, capsys):
    folder, summary = copied(finished[0], tmp_path), finished[1]
    (folder / "summary.json").unlink()
    (folder / "health.png").unlink()
    assert main(["doctor", str(folder), "--json"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["source"] == "health.csv and metrics.csv"
    assert [d["code"] for d in found["diagnoses"]] == codes(summary)
    assert (folder / "health.png").is_file()  # drawn again from health.csv


def test_barenet_doctor_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["doctor", str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    old_run(tmp_path / "damaged", [0.9, 0.95], [0.3, 0.2])
    (tmp_path / "damaged" / HEALTH_CSV).write_text("step,epoch\n1,2\n")
    assert main(["doctor", str(tmp_path / "damaged")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "health.csv" in err and "Traceback" not in err


def test_barenet_runs_marks_the_runs_with_problems(finished, tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    copied(finished[0], tmp_path / "runs")
    old_run(tmp_path / "runs" / "r-old", [0.9, 0.95], [0.3, 0.2])
    assert main(["runs", "--dir", str(tmp_path / "runs")]) == 0
    lines = {line.split()[2]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "unscaled-inputs" in lines["r-unscaled"] and lines["r-old"].rstrip().endswith("-")


def test_the_grid_records_each_run_s_codes(monkeypatch, tmp_path):
    found = [{"code": "dead-relus", "severity": "problem", "epoch": 1, "step": 5, "message": "..."}]
    history = History()
    history.diagnoses = [Diagnosis("lr-too-high", "problem", 1, 9, "...")]
    outcomes = iter([{"test_accuracy": 0.4, "final_epoch": {}, "diagnoses": found}])

    def fake_run(config, **kwargs):
        summary = next(outcomes, None)
        if summary is None:
            raise TrainingDiverged("the loss became nan", history)
        return {**summary, "test_loss": 2.3, "epochs_run": 1, "train_seconds": 1.0}

    monkeypatch.setattr(grid, "run", fake_run)
    rows = [grid._train_one((cfg.resolve(), {}, tmp_path / str(i))) for i in range(2)]  # noqa: SLF001
    assert [row["doctor"] for row in rows] == ["dead-relus", "lr-too-high"]
    assert "doctor" in grid.format_table(rows, [])
