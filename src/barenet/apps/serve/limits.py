"""`Limits`: what one request to `barenet serve` may hold, and how long reading it may take."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError, InputError


class LimitError(InputError):
    """An input over one of the server's limits (body size, image pixels, batch size): HTTP 413."""


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 4 * 1024 * 1024  # the whole request, checked before a route sees it
    max_pixels: int = 20_000_000           # an image's width x height, read from its header before decoding
    max_batch: int = 256                   # rows in one JSON request
    read_timeout_s: float = 15.0           # for a request's headers, then for its body, to arrive
    max_connections: int = 1000            # open at once (slow ones included); more are answered 503

    def __post_init__(self):
        for name in ("max_body_bytes", "max_pixels", "max_batch", "read_timeout_s", "max_connections"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
