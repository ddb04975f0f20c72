"""The README as a new user meets it: the quick start is a clone and two commands, the Python block runs as a
script and prints what it computed, and the notebooks' extra installs Jupyter."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from clihelpers import cli_env
from helpers import REPO, with_data

README = (REPO / "README.md").read_text(encoding="utf-8")


def code_blocks(section: str, language: str) -> list[str]:
    """The ```language blocks under the README heading `section` (up to the next heading of its level)."""
    start = README.index(f"\n{section}\n")
    level = section.split(" ")[0]
    end = README.find(f"\n{level} ", start + len(section) + 1)
    return re.findall(rf"```{language}\n(.*?)```", README[start:end if end > 0 else None], re.S)


def test_the_quick_start_is_a_clone_then_two_commands():
    lines = [line for line in code_blocks("## Quick start", "bash")[0].splitlines() if line.strip()]
    assert len(lines) == 3, lines
    assert re.fullmatch(r"git clone \S+ barenet && cd barenet", lines[0]), lines[0]
    assert lines[1].startswith('pip install -e ".[dev]"') and lines[1].endswith("&& barenet train"), lines[1]
    assert lines[2] == "pytest"


@with_data("mnist")
def test_the_python_block_runs_as_a_script_and_prints_its_results(tmp_path):
    script = tmp_path / "readme_example.py"
    script.write_text(code_blocks("## Use it from Python", "python")[0], encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=cli_env(), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Total params" in out or "parameters" in out, out  # the summary
    per_epoch = re.search(r"validation accuracy per epoch: \[([^\]]*)\]", out)
    assert per_epoch and len(per_epoch[1].split(",")) == 10, out
    test = re.search(r"test accuracy ([\d.]+)%", out)
    assert test and float(test[1]) > 95, out
    assert re.search(r"predicted \[[\d ]+\] for labels \[[\d ]+\]", out), out
    assert "reloaded from mnist.safetensors: the same predictions: True" in out, out
    assert (tmp_path / "mnist.safetensors").is_file()


def test_the_notebooks_extra_installs_jupyter():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[<>=!~\[ ;]", requirement)[0].lower() for requirement in extras["notebooks"]}
    assert {"jupyterlab", "nbconvert", "ipykernel", "ipywidgets"} <= names
    assert 'pip install -e ".[notebooks]"' in README or 'pip install -e ".[notebooks,' in README


def test_with_the_notebooks_extra_jupyter_runs():
    try:
        importlib.metadata.version("jupyterlab")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip('the notebooks extra is not installed (pip install -e ".[notebooks]"; .ci/run installs it)')
    bin_dirs = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    jupyter = shutil.which("jupyter", path=bin_dirs)
    assert jupyter and shutil.which("jupyter-nbconvert", path=bin_dirs), "the jupyter commands are missing"
    result = subprocess.run([jupyter, "lab", "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and re.match(r"\d+\.\d+", result.stdout.strip()), result.stderr
