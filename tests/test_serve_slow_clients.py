"""Slow clients against a real `barenet serve` process on loopback (a bounded number of sockets):
clients that trickle their headers or their body are answered 408 and disconnected within --timeout,
and 300 of them at once do not keep a normal client out."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

import barenet as bn
from servehelpers import Trickler, serve_process, trickle

pytest.importorskip("uvicorn", reason='barenet serve needs the serve extra: pip install "barenet[serve]"')

TIMEOUT_S = 2.0
SLACK_S = 6.0  # for a loaded machine: the server's timers fire late, this client polls every 0.25 s


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("slow") / "tiny.safetensors"
    bn.MLP([784, 32, 10], seed=0).save(path, extra={"name": "tiny", "dataset": "mnist", "input": {"scale": "unit"}})
    return path


def test_header_and_body_tricklers_get_a_408_and_are_disconnected_within_the_timeout(model_file):
    with serve_process(model_file, "--timeout", TIMEOUT_S) as address:
        tricklers = [Trickler(address, part) for part in ("headers", "body") for _ in range(10)]
        try:
            trickle(tricklers, seconds=TIMEOUT_S + SLACK_S + 5)
        finally:
            for trickler in tricklers:
                trickler.close()
    for trickler in tricklers:
        assert trickler.closed_after is not None, f"still open after {TIMEOUT_S + SLACK_S + 5} s: {trickler.answer!r}"
        assert TIMEOUT_S * 0.9 <= trickler.closed_after <= TIMEOUT_S + SLACK_S, trickler.closed_after
        status, _, body = trickler.answer.partition(b"\r\n")
        assert status == b"HTTP/1.1 408 Request Timeout", trickler.answer
        assert b"took over 2 s to arrive" in body, trickler.answer


def get(url: str, body: dict | None = None) -> tuple[int, dict, float]:
    """(status, JSON answer, seconds) of a GET, or of a POST of `body` as JSON; at most 10 s."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    start = time.monotonic()
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read()), time.monotonic() - start


def test_three_hundred_slow_sockets_do_not_keep_out_a_normal_client(model_file):
    """With a long --timeout, 300 tricklers stay connected while a normal client asks for /api/health and a
    prediction three times; each answer is a 200, well inside the client's 10 s (the issue asks for 1 s)."""
    with serve_process(model_file, "--timeout", 60) as address:
        base = f"http://{address[0]}:{address[1]}"
        tricklers = [Trickler(address, part) for part in ("headers", "body") for _ in range(150)]
        try:
            answers = []
            for _ in range(3):
                trickle(tricklers, seconds=1.0)
                answers += [get(f"{base}/api/health"), get(f"{base}/api/predict", {"pixels": [0] * 784})]
            open_now = sum(trickler.closed_after is None for trickler in tricklers)
        finally:
            for trickler in tricklers:
                trickler.close()
    assert open_now == 300
    assert [status for status, _, _ in answers] == [200] * 6
    assert answers[0][1]["status"] == "ok" and len(answers[1][1]["probabilities"]) == 10
    print("answer times with 300 slow sockets open:", ", ".join(f"{seconds:.3f} s" for _, _, seconds in answers))
