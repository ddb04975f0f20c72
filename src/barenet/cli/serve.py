"""`barenet serve MODEL`: a web page to draw digits on and a REST API, on FastAPI and uvicorn (loopback by default)."""

from __future__ import annotations

import sys


def register(sub) -> None:
    from ..apps.serve.limits import Limits

    defaults = Limits()
    p = sub.add_parser("serve", help="serve a model: a page to draw digits on, and a REST API",
                       description='Needs the serve extra: pip install "barenet[serve]". The page is at /, the '
                                   "API under /api (POST /api/predict), its docs at /docs.")
    p.add_argument("model", help="a model file (.safetensors) of 28x28 images")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--max-body-bytes", type=int, default=defaults.max_body_bytes,
                   help=f"largest request body (default {defaults.max_body_bytes:,})")
    p.add_argument("--max-pixels", type=int, default=defaults.max_pixels,
                   help=f"largest image, in pixels (default {defaults.max_pixels:,})")
    p.add_argument("--max-batch", type=int, default=defaults.max_batch,
                   help=f"most images in one JSON request (default {defaults.max_batch})")
    p.add_argument("--timeout", type=float, default=defaults.read_timeout_s,
                   help=f"seconds a request's headers, and then its body, may take to arrive; slower clients get "
                        f"408 and are disconnected (default {defaults.read_timeout_s:g})")
    p.add_argument("--max-connections", type=int, default=defaults.max_connections,
                   help=f"connections open at once, slow ones included; more are answered 503 "
                        f"(default {defaults.max_connections:,})")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..apps.serve.app import create_app, require_serve_extra
    from ..apps.serve.limits import Limits

    require_serve_extra()
    import uvicorn

    from ..apps.serve.connections import uvicorn_config

    limits = Limits(args.max_body_bytes, args.max_pixels, args.max_batch, args.timeout, args.max_connections)
    app = create_app(args.model, limits)
    _check_port(args.host, args.port)
    info = app.state.predictor.info
    print(f"barenet serve: {info['name']} ({info['parameters']:,} parameters) at http://{_url_host(args.host)}:"
          f"{args.port}/  (API docs at /docs; Ctrl-C stops)", file=sys.stderr)
    uvicorn.Server(uvicorn_config(app, args.host, args.port, limits)).run()
    return 0


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _check_port(host: str, port: int) -> None:
    """ConfigError (one line) when the address cannot be listened on: a bad port, or one in use."""
    import socket

    from ..errors import ConfigError

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be 0..65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose another --port "
                          f"or --host") from None
