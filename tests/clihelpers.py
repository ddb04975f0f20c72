"""Run the real `barenet` console script in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import mnist_dir

SCRIPT = Path(sys.executable).parent / "barenet"


def command() -> list[str]:
    return [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "barenet"]


def cli_env(**extra) -> dict:
    env = dict(os.environ)
    folder = mnist_dir()
    if folder is not None:
        env["BARENET_DATA_DIR"] = str(folder)
    env.update(extra)
    return env


def barenet(*args, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([*command(), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=env or cli_env(), timeout=timeout)


def assert_user_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, exactly one line on stderr, no traceback, and the line says what it should."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
