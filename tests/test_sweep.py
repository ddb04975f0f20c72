"""barenet sweep: the parameter syntax, run statuses shared with grid, and real sweeps on SQLite (two workers,
killed and resumed, best config rerun) and on a throwaway PostgreSQL server (two processes racing on one study)."""

import csv
import json
import os
import signal
import sqlite3
import subprocess
import time
from importlib.util import find_spec

import pytest

from barenet.apps import grid
from barenet.apps.outcome import classify
from barenet.apps.sweep.params import parse_param, parse_params
from barenet.errors import ConfigError, TrainingDiverged
from barenet.runs import config as cfg
from clihelpers import assert_user_error, barenet, cli_env, command
from helpers import with_data

needs_optuna = pytest.mark.skipif(find_spec("optuna") is None,
                                  reason='Optuna is not installed: pip install "barenet[sweep]"')
TINY = ["--set", "data.subset=1000", "--set", "data.validation=1000", "--set", "train.epochs=2",
        "--set", "model.layers=[784,16,10]"]


@pytest.fixture(scope="module")
def base():
    return cfg.resolve(recipe="mnist")


# ----- the parameter syntax -----------------------------------------------------
def test_ranges_and_choices_parse_to_their_kinds(base):
    lr = parse_param("optimizer.lr=log:1e-3..1", base)
    assert (lr.kind, lr.low, lr.high, lr.log) == ("float", 0.001, 1.0, True)
    assert parse_param("optimizer.momentum=0.8..0.99", base).kind == "float"
    epochs = parse_param("train.epochs=2..10", base)
    assert (epochs.kind, epochs.low, epochs.high, epochs.log) == ("int", 2, 10, False)
    assert parse_param("train.batch_size=log:16..512", base).kind == "int"
    assert parse_param("optimizer.lr=int:1..2", base).kind == "int"
    batch = parse_param("train.batch_size=32,64,128", base)
    assert (batch.kind, batch.choices, batch.labels) == ("choice", (32, 64, 128), ("32", "64", "128"))
    layers = parse_param("model.layers=784,128,10/784,256,128,10", base)
    assert layers.choices == ([784, 128, 10], [784, 256, 128, 10]) and layers.value_of("784,128,10") == [784, 128, 10]
    assert parse_param("model.layers=[784,64,10],[784,32,10]", base).choices == ([784, 64, 10], [784, 32, 10])
    assert parse_param("model.activation=relu,tanh", base).choices == ("relu", "tanh")


@pytest.mark.parametrize("item, fragment", [
    ("optimizer.lrr=log:1e-3..1", "unknown config key"),
    ("optimizer.lr=log:0..1", "LOW > 0"),
    ("optimizer.lr=1..0.1", "LOW < HIGH"),
    ("optimizer.lr=exp:1..2", "unknown range kind"),
    ("train.epochs=0..3", "train.epochs"),                     # the schema refuses 0 epochs
    ("train.batch_size=32,banana", "train.batch_size"),
    ("model.layers=784,10/784", "model.layers"),               # a one-size network
    ("train.batch_size=32,32", "given twice"),
    ("optimizer.lr", "--param takes"),
])
def test_bad_params_are_one_line_errors_naming_the_param(base, item, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_param(item, base)


def test_each_key_once_and_at_least_one(base):
    with pytest.raises(ConfigError, match="given twice"):
        parse_params(["optimizer.lr=0.1,0.2", "optimizer.lr=log:1e-3..1"], base)
    with pytest.raises(ConfigError, match="at least one --param"):
        parse_params([], base)


# ----- statuses: grid and sweep share one rule ----------------------------------------
def test_classify_marks_chance_and_nan_as_collapsed():
    assert classify(0.1009, 10) == "collapsed" and classify(float("nan"), 10) == "collapsed"
    assert classify(0.97, 10) == "ok" and classify(0.97, 10, diverged=True) == "diverged"
    assert classify(0.6, 2) == "collapsed" and classify(0.8, 2) == "ok"


def test_grid_no_longer_calls_a_run_at_chance_ok(base, monkeypatch, tmp_path):
    outcomes = iter([{"test_accuracy": 0.1009, "final_epoch": {}}, {"test_accuracy": 0.97, "final_epoch": {}}])

    def fake_run(config, **kwargs):
        summary = next(outcomes, None)
        if summary is None:
            raise TrainingDiverged("the loss became nan")
        return {**summary, "test_loss": 2.3, "epochs_run": 1, "train_seconds": 1.0}

    monkeypatch.setattr(grid, "run", fake_run)
    statuses = [grid._train_one((base, {}, tmp_path / str(i)))["status"] for i in range(3)]  # noqa: SLF001
    assert statuses[:2] == ["collapsed", "ok"] and statuses[2].startswith("diverged: the loss became nan")


def test_missing_optuna_is_one_line_naming_the_extra(monkeypatch):
    import sys

    from barenet.apps.sweep import engine

    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError, match=r'pip install "barenet\[sweep\]"'):
        engine.optuna()


@needs_optuna
def test_sweep_command_errors_are_one_line(tmp_path):
    assert_user_error(barenet("sweep", "--trials", "2", cwd=tmp_path), "at least one --param")
    assert_user_error(barenet("sweep", "--param", "optimizer.lrr=0.1,0.2", cwd=tmp_path), "unknown config key")
    assert_user_error(barenet("sweep", "--param", "optimizer.lr=0.1,0.2", "--storage", "mysql://x/y", cwd=tmp_path),
                      "--storage")
    assert_user_error(barenet("sweep", "show", "nothing", cwd=tmp_path), "no sweep storage")


@needs_optuna
def test_a_worker_that_dies_is_described_by_how_it_died():
    """A worker killed by SIGKILL printed nothing: the parent must not point at an error "said above"."""
    from types import SimpleNamespace

    from barenet.apps.sweep.workers import wait_for

    def process(name, code):
        return SimpleNamespace(name=name, exitcode=code, join=lambda: None)

    with pytest.raises(ConfigError) as caught:
        wait_for([process("barenet-sweep-1", 0), process("barenet-sweep-2", -signal.SIGKILL),
                  process("barenet-sweep-3", 2)])
    message = str(caught.value)
    assert "2 of 3 sweep workers stopped" in message and "said above" not in message
    assert "barenet-sweep-2 was killed by SIGKILL" in message
    assert "barenet-sweep-3 stopped with the error above" in message


# ----- SQLite: two workers, killed and resumed, the best config rerun ------------------------
def numbers_in(db, state: str) -> set[int]:
    """Numbers of the trials in `state` in an Optuna SQLite file, read with sqlite3 (none before the schema exists)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as connection:
            return {row[0] for row in connection.execute("SELECT number FROM trials WHERE state = ?", (state,))}
    except sqlite3.Error:
        return set()


def count_finished(db) -> int:
    return len(numbers_in(db, "COMPLETE"))


def load(url: str, name: str):
    """The study, read through connections closed after each use (a pooled one outlives a stopped server
    and warns when collected, in whichever test runs then)."""
    import optuna
    from sqlalchemy.pool import NullPool

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"poolclass": NullPool})
    return optuna.load_study(study_name=name, storage=storage)


@needs_optuna
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_trial_killed_before_its_first_heartbeat_is_failed_and_retried(tmp_path):
    import optuna

    from barenet.apps.sweep.storage import StorageLock, beat_for_silent_trials, open_storage

    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = open_storage(url, StorageLock(url), heartbeat_s=1)
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    orphan = study.ask({"lr": optuna.distributions.FloatDistribution(0.01, 0.5, log=True)})  # a kill here: no beat
    by_number = lambda: {t.number: t for t in study.get_trials(deepcopy=False)}  # noqa: E731
    time.sleep(4.5)  # past the grace period of 3 heartbeats (SQLite's clock counts whole seconds)
    optuna.storages.fail_stale_trials(study)
    assert by_number()[orphan.number].state.name == "RUNNING"  # Optuna alone would wait for it forever
    assert beat_for_silent_trials(storage, "s") == [orphan.number]
    assert beat_for_silent_trials(storage, "s") == []  # once: later beats would keep it alive
    time.sleep(4.5)
    optuna.storages.fail_stale_trials(study)
    trials = by_number()
    assert trials[orphan.number].state.name == "FAIL"
    retry = [t for t in trials.values() if t.state.name == "WAITING"]
    assert len(retry) == 1 and retry[0].params == trials[orphan.number].params  # queued again, same values


@needs_optuna
@with_data("mnist")
def test_sqlite_sweep_two_workers_survives_kill_and_best_config_reruns(tmp_path):
    args = ["sweep", "--param", "optimizer.lr=log:0.01..0.5", "--param", "train.batch_size=32,64", *TINY,
            "--trials", "4", "--workers", "2", "--prune", "none", "--heartbeat", "1", "--sampler-seed", "3"]
    process = subprocess.Popen([*command(), *args], cwd=tmp_path, env=cli_env(), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    db = tmp_path / "runs" / "sweep-mnist" / "study.db"
    while count_finished(db) < 2 and process.poll() is None:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the command and both workers, mid-sweep
    process.wait()
    first, orphaned = count_finished(db), numbers_in(db, "RUNNING")  # trials the kill left half-trained
    assert 2 <= first < 4, process.stderr.read()

    result = barenet(*args, cwd=tmp_path)  # the same command again continues the study
    assert result.returncode == 0, result.stderr
    study = load(f"sqlite:///{db}", "mnist")
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") == 4 and "RUNNING" not in states
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    retried = {t.system_attrs["failed_trial"] for t in study.trials if t.state.name == "COMPLETE"
               and "failed_trial" in t.system_attrs}  # what Optuna's RetryHeartbeatStaleTrialCallback records
    assert {t.number for t in study.trials if t.state.name == "FAIL"} == orphaned <= retried  # each ran again
    folder = tmp_path / "runs" / "sweep-mnist"
    recorded = [json.loads(p.read_text()) for p in folder.glob("trials/*/trial.json")]
    assert sorted(r["trial"] for r in recorded) == sorted(t.number for t in study.trials if t.state.name == "COMPLETE")
    assert f"{4 - first} trials finished by this command" in result.stdout

    with open(folder / "results.csv") as handle:
        best = next(csv.DictReader(handle))
    assert best["status"] == "ok"
    rerun = barenet("train", "--config", folder / "best.toml", "--out", tmp_path / "rerun", "--json", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["final_epoch"]["val_accuracy"] == float(best["validation_accuracy"])
    assert all((folder / name).stat().st_size > 1000 for name in ("history.png", "importance.png", "params.png"))

    shown = barenet("sweep", "show", "mnist", cwd=tmp_path)
    assert shown.returncode == 0 and f"{float(best['validation_accuracy']):.2%}" in shown.stdout, shown.stderr

    other = barenet("sweep", "--param", "optimizer.lr=0.1,0.2", *TINY, "--trials", "1", cwd=tmp_path)
    assert_user_error(other, "another config or search space")


# ----- pruning -----------------------------------------------------------------------------
@needs_optuna
@with_data("mnist")
def test_median_pruner_stops_a_hopeless_learning_rate_early(tmp_path, base):
    from barenet.apps.sweep.plan import make_plan
    from barenet.apps.sweep.workers import Worker

    config = base
    for key, value in {"data.subset": 1000, "data.validation": 1000, "train.epochs": 3,
                       "model.layers": [784, 16, 10]}.items():
        config = cfg.apply_override(config, key, value)
    plan = make_plan(config, [parse_param("optimizer.lr=0.1/1e-6", config)], trials=3, out=tmp_path / "sweep",
                     pruner="median", prune_after=2)
    worker = Worker(plan, stream=open(os.devnull, "w"))
    for lr in ("0.1", "0.1", "1e-6"):  # two good trials first: the median to beat
        worker.study.enqueue_trial({"optimizer.lr": lr})
    worker.work()
    hopeless = worker.study.trials[2]
    assert [t.state.name for t in worker.study.trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert max(hopeless.intermediate_values) < 3  # stopped before its last epoch
    run_dir = tmp_path / "sweep" / "trials" / "0002"
    outcome = json.loads((run_dir / "trial.json").read_text())
    assert outcome["status"] == "pruned"
    assert "lr-too-low" in outcome["diagnoses"] and hopeless.user_attrs["diagnoses"] == outcome["diagnoses"]
    assert (run_dir / "checkpoint.safetensors").exists() and not (run_dir / "model.safetensors").exists()


# ----- PostgreSQL: a real, throwaway server; two processes racing on one study ---------------------------
def postgres_bindir():
    """The newest Debian PostgreSQL server's bin folder, or None."""
    from pathlib import Path

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def postgres_url():
    """A PostgreSQL cluster in a temporary folder on a loopback port, stopped and removed afterwards.
    initdb refuses root: as root it runs as the `postgres` user that Debian's package creates."""
    import pwd
    import shutil
    import tempfile
    from pathlib import Path

    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server (apt-get install postgresql; .ci/run installs it where apt works)")
    if find_spec("psycopg") is None:
        pytest.skip('psycopg is not installed: pip install "barenet[sweep]"')
    as_postgres, owner = [], None
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")  # the package creates it; a KeyError here is a broken install
        as_postgres = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="barenet-pg-"))
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)  # postgres must own its data and socket folder
    data, port = base / "data", free_port()
    ctl = [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "barenet"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*ctl, "-l", str(base / "log"), "-w", "-o",
                        f"-p {port} -k {base} -c listen_addresses=127.0.0.1", "start"],
                       check=True, capture_output=True, timeout=120)
        yield f"postgresql://barenet@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*ctl, "-m", "immediate", "-w", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


@needs_optuna
@with_data("mnist")
def test_two_processes_start_together_on_an_empty_postgres_database(tmp_path, postgres_url):
    args = ["sweep", "--param", "optimizer.lr=log:0.01..0.5", *TINY, "--trials", "4", "--prune", "none",
            "--storage", postgres_url, "--study", "pg"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    processes = [subprocess.Popen([*command(), *args, "--out", tmp_path / name, "--sampler-seed", str(seed)],
                                  cwd=tmp_path, env=cli_env(), **pipes)
                 for seed, name in enumerate(("machine-a", "machine-b"))]  # the same moment, no `sweep init`
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]

    study = load(postgres_url.replace("postgresql:", "postgresql+psycopg:"), "pg")
    assert sorted((t.number, t.state.name) for t in study.trials) == [(n, "COMPLETE") for n in range(4)]
    recorded = [json.loads(p.read_text())["trial"] for p in tmp_path.glob("machine-*/trials/*/trial.json")]
    assert sorted(recorded) == list(range(4))  # each trial trained once, on one of the two
    assert barenet("sweep", "init", "--storage", postgres_url).returncode == 0  # the schema exists: a no-op
    shown = barenet("sweep", "show", "pg", "--storage", postgres_url)
    assert shown.returncode == 0 and "4 trials: 4 ok" in shown.stdout, shown.stderr
