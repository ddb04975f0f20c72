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


@contextlib.contextmanager
def serve_process(model, *options, tries: int = 3):
    """A real `barenet serve MODEL *options` child process on a free port of 127.0.0.1 (another port is tried when
    a parallel test took it first); yields its (host, port) once /api/health answers; stopped afterwards."""
    import subprocess
    import sys
    import urllib.request

    for _ in range(tries):
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "barenet", "serve", str(model), "--port", str(port),
                                   *map(str, options)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while server.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5):
                    break
            except OSError:
                time.sleep(0.2)
        if server.poll() is None:
            break
        if "cannot listen" not in server.stderr.read():
            raise RuntimeError(f"barenet serve exited with {server.returncode}")
    try:
        yield "127.0.0.1", port
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stderr.close()


class Trickler:
    """A client that sends one byte at a time: of its headers (`part="headers"`), or, after whole headers, of a
    body it never finishes (`part="body"`). `step()` sends the next byte and collects what the server said;
    `closed_after` is how many seconds after connecting the server closed the connection (None while open)."""

    def __init__(self, address: tuple[str, int], part: str):
        self.sock = socket.create_connection(address, timeout=10)
        self.sock.setblocking(False)
        self.opened, self.closed_after, self.answer = time.monotonic(), None, b""
        head = f"POST /api/predict HTTP/1.1\r\nHost: {address[0]}\r\nContent-Type: application/json\r\n"
        if part == "body":
            self.sock.sendall((head + "Content-Length: 1000000\r\n\r\n").encode())
            self.drip = b"[" * 1_000_000
        else:
            self.drip = b"X-Slow: a\r\n" * 100_000
        self.sent = 0

    def step(self) -> None:
        if self.closed_after is not None:
            return
        try:
            while chunk := self.sock.recv(65536):
                self.answer += chunk
            self._closed()  # recv gave b"": the server closed the connection
            return
        except BlockingIOError:
            pass  # nothing to read: still open
        except OSError:
            self._closed()
            return
        try:
            self.sent += self.sock.send(self.drip[self.sent:self.sent + 1])
        except BlockingIOError:
            pass
        except OSError:
            self._closed()

    def _closed(self) -> None:
        self.closed_after = time.monotonic() - self.opened
        self.sock.close()

    def close(self) -> None:
        if self.closed_after is None:
            self.sock.close()


def trickle(tricklers: list[Trickler], seconds: float, every_s: float = 0.25) -> None:
    """Let every trickler send a byte each `every_s` seconds for `seconds` (or until all were closed)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and any(t.closed_after is None for t in tricklers):
        for trickler in tricklers:
            trickler.step()
        time.sleep(every_s)
