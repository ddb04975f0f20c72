"""`barenet data ...` through the real command line, in a subprocess."""

import gzip
import os
import subprocess
import sys

import pytest

from helpers import data_folder, with_data


def barenet(*args, env_extra=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "BARENET_DATA_DIR"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "barenet", "data", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def assert_clean_error(proc):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("barenet: error:"), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture
def cache_env(tmp_path):
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_unknown_dataset(cache_env):
    proc = barenet("where", "--dataset", "cifar", env_extra=cache_env)
    assert_clean_error(proc)
    assert "choose one of" in proc.stderr


def test_unknown_action():
    assert_clean_error(barenet("explode"))


def test_verify_with_nothing_present_names_the_fix(tmp_path, cache_env):
    (tmp_path / "empty").mkdir()  # a --data-dir that does not exist is refused as such (test_path_options)
    proc = barenet("verify", "--dataset", "mnist", "--data-dir", str(tmp_path / "empty"), env_extra=cache_env)
    assert_clean_error(proc)
    assert "--data-dir" in proc.stderr and "BARENET_DATA_DIR" in proc.stderr


@pytest.mark.skipif(os.path.isdir("/usr/share/datasets/mnist"), reason="a system MNIST folder would be used instead")
def test_verify_rejects_a_corrupt_file(tmp_path, cache_env):
    folder = tmp_path / "d"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (folder / f"{name}.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 7])))
    proc = barenet("verify", "--dataset", "mnist", "--data-dir", str(folder), env_extra=cache_env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("barenet: error:")]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("barenet: warning:")]
    assert len(errors) == 1 and "checksum mismatch" in errors[0]
    assert len(warnings) >= 4 and all("failed its checksum" in w for w in warnings)
    assert all(line.startswith("barenet: ") for line in proc.stderr.splitlines())


def test_show_bad_count(cache_env):
    assert_clean_error(barenet("show", "--count", "0", env_extra=cache_env))


needs_fashion = with_data("fashion-mnist")
FASHION = data_folder("fashion-mnist")


@needs_fashion
def test_where_verify_show_with_shared_data(tmp_path, cache_env):
    env = {**cache_env, "BARENET_DATA_DIR": str(FASHION)}
    where = barenet("where", "--dataset", "fashion-mnist", env_extra=env)
    assert where.returncode == 0, where.stderr
    assert f"BARENET_DATA_DIR {FASHION}: found 4 of 4" in where.stdout
    verify = barenet("verify", "--dataset", "fashion-mnist", env_extra=env)
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.count("ok  ") == 4 and "c59f468a2f672dc8" in verify.stdout
    out = tmp_path / "grid.png"
    show = barenet("show", "--dataset", "fashion-mnist", "--out", str(out), "--count", "12", env_extra=env)
    assert show.returncode == 0, show.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "cache" / "barenet").exists()  # found locally: nothing downloaded or cached


@needs_fashion
def test_show_to_unwritable_place(tmp_path, cache_env):
    env = {**cache_env, "BARENET_DATA_DIR": str(FASHION)}
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_clean_error(barenet("show", "--dataset", "fashion-mnist", "--out", str(blocker / "g.png"), env_extra=env))


def test_each_action_has_its_own_help():
    proc = barenet("download", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: barenet data download")
    assert "--count" not in proc.stdout  # show's options belong to show
    assert "--count" in barenet("show", "--help").stdout


def test_no_action_names_the_actions():
    proc = barenet()
    assert_clean_error(proc)
    assert "download,verify,where,show" in proc.stderr


@with_data("mnist")
def test_show_refuses_to_overwrite_without_force_and_never_replaces_its_default(tmp_path, cache_env):
    env = {**cache_env, "BARENET_DATA_DIR": str(data_folder("mnist"))}
    out = tmp_path / "samples.png"
    out.write_bytes(b"a picture the user keeps")
    refused = barenet("show", "--out", str(out), "--count", "4", env_extra=env)
    assert_clean_error(refused)
    assert "--force" in refused.stderr and out.read_bytes() == b"a picture the user keeps"
    forced = barenet("show", "--out", str(out), "--count", "4", "--force", env_extra=env)
    assert forced.returncode == 0, forced.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("mnist-samples.png", "mnist-samples-2.png"):  # the default name is never overwritten
        shown = barenet("show", "--count", "4", env_extra=env, cwd=tmp_path)
        assert shown.returncode == 0 and f"wrote {name}" in shown.stdout, shown.stderr
    assert (tmp_path / "mnist-samples.png").is_file() and (tmp_path / "mnist-samples-2.png").is_file()
