"""Every path a command takes, given a place it cannot use: one line and exit 2 (or success), never a traceback.

The path options are found in the argparse parsers themselves (`barenet.cli.build_parser`): an option
or positional whose help or metavar speaks of a file, folder, path, PNG, CSV or SQLite URL. A new
option is therefore covered as soon as it exists; a new command needs a line in TEMPLATES (a command
line that works), or `test_every_command_with_a_path_has_a_template` fails. Each path is given:

    missing     a folder that does not exist yet (an output is created there: success is right)
    read-only   a name on a read-only tmpfs (EROFS even for root)
    too-long    a 300-character name (ENAMETOOLONG)
    proc        a name under /proc, where nothing can be created
    full-disk   a name on a full 64 KB tmpfs (ENOSPC)

Each runs in this process through `barenet.cli.main`, so a traceback fails the test with its stack.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pytest

from helpers import mnist_dir
from mounts import need, tmpfs

PATH_WORDS = re.compile(r"\b(file|files|folder|dir|path|png|csv|safetensors|sqlite)\b", re.IGNORECASE)
PATH_METAVARS = {"DIR", "FILE", "PATH", "CSV", "RUN_DIR", "IN", "OUT", "MODEL"}
TARGETS = ("missing", "read-only", "too-long", "proc", "full-disk")
# a command line that works, per command; <name> is a positional (filled from DEFAULTS), {name} a fixture's path
TEMPLATES: dict[tuple[str, ...], list[str]] = {
    ("train",): ["train", "--subset", "100", "--epochs", "1", "--layers", "784,8,10", "--batch-size", "50", "--quiet",
                 "--out", "{tmp}/run"],
    ("train", "resume"): ["train", "--resume", "<resume>"],
    ("evaluate",): ["evaluate", "<model>", "--plot", "{tmp}/confusion.png"],
    ("predict",): ["predict", "<model>", "<files>", "--output", "{tmp}/predictions.csv", "--save-preprocessed",
                   "{tmp}/seen"],
    ("ensemble",): ["ensemble", "<models>"],
    ("data", "download"): ["data", "download"],
    ("data", "verify"): ["data", "verify"],
    ("data", "where"): ["data", "where"],
    ("data", "show"): ["data", "show", "--count", "4", "--out", "{tmp}/samples.png"],
    ("runs",): ["runs", "--dir", "{runs}"],
    ("runs", "compare"): ["runs", "--dir", "{runs}", "compare", "<a>", "<b>", "--out", "{tmp}/compare.png"],
    ("doctor",): ["doctor", "--dir", "{runs}", "<run>"],
    ("grid",): ["grid", "--param", "optimizer.lr=0.1", "--set", "data.subset=100", "--set", "train.epochs=1", "--set",
                "model.layers=[784,8,10]", "--workers", "1", "--out", "{tmp}/grid"],
    ("sweep",): ["sweep", "--param", "optimizer.lr=0.1,0.2", "--set", "data.subset=100", "--set", "train.epochs=1",
                 "--set", "model.layers=[784,8,10]", "--trials", "1", "--out", "{tmp}/sweep"],
    ("sweep", "show"): ["sweep", "show", "s", "--storage", "sqlite:///{study}", "--save", "{tmp}/saved"],
    ("sweep", "init"): ["sweep", "init", "--storage", "sqlite:///{tmp}/init.db"],
    ("compare",): ["compare", "--steps", "2"],
    ("export",): ["export", "<model>", "--to", "onnx", "<out>"],
    ("export", "output"): ["export", "<model>", "--to", "onnx", "--output", "{tmp}/model.onnx"],
    ("import-torch",): ["import-torch", "<input>", "<out>"],
    ("serve",): ["serve", "<model>", "--port", "-1"],  # a good model meets the bad port: exit 2 without serving
}
DEFAULTS = {"model": ["{model}"], "files": ["{image}", "{batch}"], "models": ["{model}", "{model}"],
            "input": ["{state}"], "out": ["{tmp}/written"], "a": ["run-a"], "b": ["run-b"],
            "run": ["run-a"]}
MAY_BE_ABSENT = {("runs", "--dir")}  # listing a folder that is not there yet says "no runs yet" and exits 0


def is_path(action: argparse.Action) -> bool:
    """Whether an option or positional takes a path, by its help and metavar (never a number or a flag)."""
    if action.nargs == 0 or action.type in (int, float) or action.choices:
        return False
    return action.metavar in PATH_METAVARS or bool(PATH_WORDS.search(action.help or ""))


def path_options(parser: argparse.ArgumentParser | None = None, words: tuple[str, ...] = ()):
    """(command words, action) for every path option and positional of every barenet command."""
    if parser is None:
        from barenet.cli import build_parser

        parser = build_parser()
    for action in parser._actions:  # noqa: SLF001 (argparse keeps no public list of a parser's actions)
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                yield from path_options(sub, (*words, name))
        elif is_path(action):
            yield words, action


def name_of(action: argparse.Action) -> str:
    return action.option_strings[0] if action.option_strings else action.dest


CASES = [(words, action) for words, action in path_options()]
IDS = [" ".join([*words, name_of(action)]) for words, action in CASES]
TRAINS = {"train", "grid", "sweep"}  # given a folder that is missing, these train a network on real MNIST: slow


def target_cases() -> list:
    """(words, action, target) for every path and target; slow where a missing folder means training."""
    return [pytest.param(words, action, target, id=f"{name}-{target}",
                         marks=[pytest.mark.slow] if target == "missing" and words[0] in TRAINS else [])
            for (words, action), name in zip(CASES, IDS) for target in TARGETS]


def template(words: tuple[str, ...], action: argparse.Action) -> list[str]:
    return list(TEMPLATES.get((*words, action.dest), TEMPLATES[words]))


def command_line(words, action, value: str, paths: dict[str, str]) -> list[str]:
    """The template with `value` as the action's path (replacing the template's, or added at the end)."""
    if "sqlite" in (action.help or ""):
        value = f"sqlite:///{value}"
    args = template(words, action)
    if action.option_strings:
        given = next((i for i, arg in enumerate(args) if arg in action.option_strings), None)
        if given is None:
            args += [action.option_strings[0], value]
        else:
            args[given + 1] = value
    filled: list[str] = []
    for arg in args:
        slot = arg[1:-1] if arg.startswith("<") and arg.endswith(">") else None
        if slot is None:
            filled.append(arg.format(**paths))
        elif slot == action.dest:
            filled.append(value)
        else:
            filled += [item.format(**paths) for item in DEFAULTS[slot]]
    return filled


# ----- what the commands are given --------------------------------------------------------------------------------
def _model(folder: Path) -> Path:
    import barenet as bn

    path = folder / "model.safetensors"
    bn.MLP([784, 16, 10], seed=0).compile().save(path, extra={
        "dataset": "mnist", "classes": [str(i) for i in range(10)], "input": {"scale": "unit"}, "image_shape": [28, 28],
        "validation": 0})
    return path


def _runs(folder: Path) -> Path:
    """Two run folders as `barenet train` leaves them, as far as `runs` and `runs compare` read them."""
    from barenet.runs import config as cfg

    for name, lr in (("run-a", 0.1), ("run-b", 0.2)):
        run = folder / name
        run.mkdir(parents=True)
        (run / "config.toml").write_text(cfg.to_toml(cfg.resolve(overrides={"optimizer.lr": lr})))
        (run / "metrics.csv").write_text("epoch,seconds,loss,accuracy,lr\n1,1.0,0.5,0.9,0.1\n")
    return folder


def _study(folder: Path) -> Path:
    """A SQLite sweep study named "s" with two finished trials."""
    import optuna

    from barenet.apps.sweep.storage import init_storage

    path = folder / "study.db"
    init_storage(f"sqlite:///{path}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=f"sqlite:///{path}", study_name="s", direction="maximize")
    study.set_user_attr("params", ["optimizer.lr=log:0.01..1"])

    def objective(trial):
        trial.set_user_attr("status", "ok")
        trial.report(0.5, 1)
        return trial.suggest_float("optimizer.lr", 0.01, 1, log=True)

    study.optimize(objective, n_trials=2)
    return path


@pytest.fixture(scope="module")
def given(tmp_path_factory) -> dict[str, str]:
    """Paths of working inputs: a model, an image and a batch, a PyTorch state dict, two runs, a study."""
    from PIL import Image

    from barenet.pytorch.files import export_torch

    folder = tmp_path_factory.mktemp("given")
    model = _model(folder)
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[6:22, 12:16] = 255
    Image.fromarray(digit).save(folder / "digit.png")
    np.save(folder / "batch.npy", np.zeros((2, 28, 28), dtype=np.uint8))
    import barenet as bn

    export_torch(bn.load(model), folder / "state.safetensors")
    return {"model": str(model), "image": str(folder / "digit.png"), "batch": str(folder / "batch.npy"),
            "state": str(folder / "state.safetensors"), "runs": str(_runs(folder / "runs")),
            "study": str(_study(folder))}


@pytest.fixture(scope="module")
def read_only(tmp_path_factory):
    with tmpfs(tmp_path_factory.mktemp("ro") / "mount", readonly=True) as mounted:
        yield mounted


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory):
    with tmpfs(tmp_path_factory.mktemp("full") / "mount", full=True) as mounted:
        yield mounted


def target_path(target: str, slug: str, tmp_path: Path, read_only, full_disk) -> str:
    if target == "missing":
        return str(tmp_path / "missing" / "deeper" / slug)
    if target == "too-long":
        return str(tmp_path / ("x" * 300))
    if target == "proc":
        return f"/proc/barenet-{slug}"
    return str(need(read_only if target == "read-only" else full_disk) / slug)


def run_main(args: list[str]) -> int:
    from barenet.cli import main

    try:
        return main(args)
    except SystemExit as exc:  # argparse's own errors
        return int(exc.code or 0)


# ----- the tests ---------------------------------------------------------------------------------------------------
def test_every_command_with_a_path_has_a_template():
    known = {"train --out", "train --config", "train --resume", "train --data-dir", "predict --output",
             "predict --save-preprocessed", "predict model", "predict files", "evaluate --plot", "data show --out",
             "grid --out", "sweep --storage", "sweep --out", "sweep show --save", "export out", "export --output",
             "import-torch out", "serve model", "runs compare --out"}
    assert known <= set(IDS), sorted(known - set(IDS))
    missing = sorted({" ".join(words) for words, _ in CASES if words not in TEMPLATES})
    assert not missing, f"add a working command line to TEMPLATES for: {missing}"


@pytest.mark.parametrize(("words", "action", "target"), target_cases())
def test_a_path_that_cannot_be_used_is_one_line_and_exit_2(words, action, target, given, read_only, full_disk,
                                                            tmp_path, monkeypatch, capsys):
    folder = mnist_dir()
    if folder is not None:
        monkeypatch.setenv("BARENET_DATA_DIR", str(folder))
    monkeypatch.chdir(tmp_path)
    slug = re.sub(r"[^a-z0-9]+", "-", " ".join([*words, name_of(action)]).lower()).strip("-")
    value = target_path(target, slug, tmp_path, read_only, full_disk)
    args = command_line(words, action, value, {**given, "tmp": str(tmp_path)})
    code = run_main(args)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    may_succeed = target == "missing" or (*words, name_of(action)) in MAY_BE_ABSENT
    if code == 0 and may_succeed:
        return
    said = [line for line in lines if line.startswith("barenet: ")]  # progress lines ("[1/2] ...") may come first
    assert code == 2 and said == lines[-1:] and "Traceback" not in err, (args, code, err[-2000:])


# ----- the tracebacks issue 25 found, one by one -------------------------------------------------------------------
def one_line(capsys, args: list[str]) -> str:
    """The one error line `barenet ARGS` ends with (exit 2, no traceback)."""
    code = run_main(args)
    err = capsys.readouterr().err
    said = [line for line in err.strip().splitlines() if line.startswith("barenet: ")]
    assert code == 2 and len(said) == 1 and "Traceback" not in err, (code, err[-2000:])
    return said[0]


def test_a_write_on_a_read_only_filesystem_reports_the_write_not_the_cleanup(read_only):
    """atomic_write's cleanup of its temp file fails with EROFS too; the error is the write's, in one line."""
    from barenet.errors import WriteError
    from barenet.io.files import write_text

    with pytest.raises(WriteError, match="Read-only file system"):
        write_text(need(read_only) / "notes.txt", "x")


def test_export_into_a_read_only_filesystem_is_one_line(given, read_only, capsys):
    line = one_line(capsys, ["export", given["model"], "--to", "torch", str(need(read_only) / "m.safetensors")])
    assert "Read-only file system" in line


def test_sweep_with_0_workers_is_one_line_before_any_data_is_read(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("barenet.apps.sweep.plan.check_data", lambda *a: pytest.fail("read the data first"))
    line = one_line(capsys, ["sweep", "--param", "optimizer.lr=0.1,0.2", "--workers", "0"])
    assert "--workers must be at least 1, got 0" in line


@pytest.mark.parametrize("where", ["read-only", "proc"])
def test_sweep_storage_where_no_lock_file_can_be_made_is_one_line(where, read_only, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("barenet.apps.sweep.plan.check_data", lambda *a: None)
    folder = need(read_only) if where == "read-only" else Path("/proc")
    line = one_line(capsys, ["sweep", "--param", "optimizer.lr=0.1,0.2", "--storage", f"sqlite:///{folder}/x.db"])
    assert "lock file" in line and str(folder) in line


def test_a_sweep_whose_disk_fills_after_its_schema_is_one_line(capsys, monkeypatch, tmp_path):
    """The study's tables fit; then the disk is full: Optuna and SQLAlchemy's three chained tracebacks become one
    line saying the storage is full."""
    from barenet.apps.sweep.storage import init_storage
    from mounts import fill

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("barenet.apps.sweep.plan.check_data", lambda *a: None)
    with tmpfs(tmp_path / "disk", size_kb=400) as mounted:
        url = f"sqlite:///{need(mounted)}/study.db"
        init_storage(url)
        fill(need(mounted))
        line = one_line(capsys, ["sweep", "--param", "optimizer.lr=0.1,0.2", "--storage", url, "--out", "sweep"])
    assert "is full" in line and "free some space" in line


def test_grid_out_under_proc_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    line = one_line(capsys, ["grid", "--param", "optimizer.lr=0.1", "--out", "/proc/grid"])
    assert "/proc/grid" in line


def test_data_show_out_a_folder_is_one_line_before_the_data_is_read(capsys, monkeypatch):
    monkeypatch.setattr("barenet.data.loader.load", lambda *a, **k: pytest.fail("read the data first"))
    assert "--out / is a folder" in one_line(capsys, ["data", "show", "--out", "/"])


def test_train_out_with_a_300_character_name_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    line = one_line(capsys, ["train", "--out", "a" * 300])
    assert "File name too long" in line and len(line) < 300


def test_a_write_error_is_said_once_not_twice(full_disk, capsys, monkeypatch, tmp_path):
    """`data show` wrapped the one-line write error in another: "cannot write X: cannot write X: ..."."""
    from helpers import run_dataset

    rng = np.random.default_rng(0)
    data = run_dataset(rng.integers(0, 256, (600, 784), dtype=np.uint8), rng.integers(0, 10, 600))
    monkeypatch.setattr("barenet.data.loader.load", lambda *a, **k: data)
    line = one_line(capsys, ["data", "show", "--count", "4", "--out", str(need(full_disk) / "samples.png")])
    assert line.count("cannot write") == 1 and "No space left on device" in line
