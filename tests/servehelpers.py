"""Helpers for the `barenet serve` tests: a real uvicorn server on 127.0.0.1 in a thread, and digit strokes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

# Strokes of a 1 and a 7 in MNIST's 28x28 coordinates (x right, y down), traced from test-set digits
# (a 1 leaning right as most MNIST ones do; a 7 with a flat bar and a long diagonal), drawn as mouse moves.
STROKES = {
    "1": [[(16.5, 4.0), (15.5, 10.0), (14.2, 17.0), (12.8, 24.0)]],
    "7": [[(7.0, 7.0), (13.0, 6.5), (21.0, 6.0), (18.0, 12.0), (15.0, 18.0), (12.5, 24.0)]],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(app, timeout_s: float = 20.0):
    """Run `app` with uvicorn on 127.0.0.1 in a thread; yield its base URL; stop it afterwards."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
