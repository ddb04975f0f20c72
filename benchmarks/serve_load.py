"""Load test of `barenet serve` on loopback: requests/s and latency percentiles, zero errors required.

    python benchmarks/serve_load.py                        # 5,000 requests, 32 connections, JSON pixels
    python benchmarks/serve_load.py --kind png             # the page's request: a 280x280 PNG drawing
    python benchmarks/serve_load.py --requests 300 --concurrency 8   # the short version CI runs

Starts `barenet serve` in a child process on a free port of 127.0.0.1 (it never connects anywhere
else), waits for /api/health, then keeps `--concurrency` HTTP/1.1 keep-alive connections busy
with POST /api/predict until `--requests` answers have arrived or `--max-seconds` have passed
(after 2 x concurrency warm-up requests, not counted).
The client is a few lines of asyncio (no HTTP library), so it takes little of the CPU the server
needs on a small machine. Exits 1 if any request failed (a non-200 status, a dropped connection).
Without `--model`, an untrained [784,128,64,10] network is served: inference costs the same.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_torch import cpu_name  # noqa: E402  (one CPU-name helper for every benchmark)

HOST = "127.0.0.1"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="answers to wait for (default 5000)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections kept busy (default 32)")
    parser.add_argument("--kind", choices=["json", "png"], default="json", help="request body (default json)")
    parser.add_argument("--model", help="a model file to serve (default: an untrained [784,128,64,10])")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop sending after this long (default 300)")
    args = parser.parse_args(argv)
    if not (1 <= args.requests <= 1_000_000 and 1 <= args.concurrency <= 256):
        parser.error("--requests must be 1..1,000,000 and --concurrency 1..256")
    return args


def drawn_seven(side: int = 280) -> np.ndarray:
    """A white 7 drawn on black, (side, side) uint8, like the page's canvas."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (side, side), 0)
    points = [(0.25, 0.25), (0.75, 0.23), (0.45, 0.85)]
    ImageDraw.Draw(image).line([(x * side, y * side) for x, y in points], fill=255, width=side // 14)
    return np.asarray(image)


def request_bytes(kind: str, port: int) -> bytes:
    """The whole HTTP request, built once: JSON pixels of the 7 (28x28), or the 7 as a PNG body."""
    from PIL import Image

    from barenet.data import images

    if kind == "json":
        body = json.dumps({"pixels": images.to_mnist(drawn_seven()).ravel().tolist()}).encode()
        media = "application/json"
    else:
        buffer = io.BytesIO()
        Image.fromarray(drawn_seven()).save(buffer, format="PNG")
        body, media = buffer.getvalue(), "image/png"
    head = (f"POST /api/predict HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: {media}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 response with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    return status, await reader.readexactly(length)


async def connection(port: int, request: bytes, plan: dict, latencies: list, errors: list) -> None:
    """One keep-alive connection sending requests while the plan has some left and time remains."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while plan["left"] > 0 and time.perf_counter() < plan["deadline"]:
            plan["left"] -= 1
            start = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status, body = await read_response(reader)
            latencies.append(time.perf_counter() - start)
            if status != 200 or b'"class"' not in body:
                errors.append(f"HTTP {status}: {body[:200]!r}")
    except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration) as exc:
        errors.append(f"connection failed: {type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def load(port: int, request: bytes, args) -> tuple[list, list, float]:
    plan = {"left": args.requests, "deadline": time.perf_counter() + args.max_seconds}
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    await asyncio.gather(*(connection(port, request, plan, latencies, errors) for _ in range(args.concurrency)))
    return latencies, errors, time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(model: Path, port: int) -> subprocess.Popen:
    """`barenet serve` in a child process; returns once /api/health answers (at most 60 s)."""
    server = subprocess.Popen([sys.executable, "-m", "barenet", "serve", str(model), "--host", HOST,
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"barenet serve exited: {server.stderr.read().decode(errors='replace').strip()}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/api/health", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("barenet serve did not answer /api/health within 60 s")


def report(latencies: list, errors: list, wall: float, args) -> None:
    ms = np.array(latencies) * 1000 if latencies else np.zeros(1)
    cpu = cpu_name()
    print(f"{len(latencies):,} requests ({args.kind}) at {args.concurrency} connections in {wall:.2f} s: "
          f"{len(latencies) / wall:,.0f} requests/s; latency p50 {np.percentile(ms, 50):.1f} ms, "
          f"p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms; {len(errors)} errors "
          f"({os.cpu_count()} CPUs, {cpu})")
    if len(latencies) < args.requests:
        print(f"stopped at --max-seconds {args.max_seconds:g} with {args.requests - len(latencies):,} requests unsent")
    for error in errors[:5]:
        print(f"error: {error}")


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="barenet-load-") as folder:
        model = Path(args.model) if args.model else Path(folder) / "untrained.safetensors"
        if not args.model:
            import barenet as bn

            bn.MLP([784, 128, 64, 10], seed=0).save(model, extra={"name": "untrained", "input": {"scale": "unit"}})
        port = free_port()
        server = start_server(model, port)
        try:
            request = request_bytes(args.kind, port)
            warm = argparse.Namespace(requests=2 * args.concurrency, concurrency=args.concurrency, max_seconds=60)
            _, warm_errors, _ = asyncio.run(load(port, request, warm))  # the first calls compile and fill caches
            latencies, errors, wall = asyncio.run(load(port, request, args))
            errors = warm_errors + errors
        finally:
            server.terminate()
            server.wait(timeout=30)
    report(latencies, errors, wall, args)
    return 1 if errors or not latencies else 0


if __name__ == "__main__":
    sys.exit(main())
