"""The loopback load test, short: `benchmarks/serve_load.py` against a real `barenet serve` process, zero errors."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from helpers import REPO

pytest.importorskip("uvicorn", reason='barenet serve needs the serve extra: pip install "barenet[serve]"')


@pytest.mark.parametrize("kind", ["json", "png"])
def test_a_short_load_run_has_no_errors(kind):
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "serve_load.py"), "--requests", "300",
                             "--concurrency", "8", "--kind", kind, "--max-seconds", "120"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = re.search(r"^([\d,]+) requests \((\w+)\) at 8 connections .* requests/s; latency p50 [\d.]+ ms, "
                        r"p99 [\d.]+ ms.*; (\d+) errors", result.stdout, re.M)
    assert summary, result.stdout
    assert summary.group(1) == "300" and summary.group(2) == kind and summary.group(3) == "0"
