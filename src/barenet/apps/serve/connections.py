"""How `barenet serve` runs uvicorn so that slow clients cannot hold connections: `uvicorn_config`.

uvicorn's HTTP/1.1 protocol waits for a request's headers for as long as bytes keep coming (its
keep-alive timer restarts on every byte), so a client that trickles one header byte a second holds its
connection for ever, and a few hundred such sockets fill `limit_concurrency`. Here each connection gets
a deadline instead: the request line and headers must arrive within the timeout from the moment the
connection opens or the previous response ends, or the connection gets a 408 and is closed. While a
route holds the request, `BodyLimit` times the body with the same timeout and answers 408 with
`Connection: close`. Whatever a client sends after a response that ends the exchange is on the deadline too.
Imports uvicorn: only `barenet serve` (after its check for the serve extra) and the tests import this module.
"""

from __future__ import annotations

import asyncio
import json
import resource

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .limits import Limits


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline of `timeout_s` seconds for each request's line and headers."""

    timeout_s = 15.0
    _deadline: asyncio.TimerHandle | None = None
    _heard = False  # bytes of a request arrived since the deadline was set

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        self._heard = self._heard or bool(data)
        super().data_received(data)
        self._settle()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may parse a pipelined request at once
        self._arm()
        self._settle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _settle(self) -> None:
        """A route holds the request once its headers are in (our side owes the response): no deadline then."""
        if self.conn.our_state is h11.SEND_RESPONSE:
            self._disarm()
        elif self._deadline is None:
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._heard = False
        self._deadline = self.loop.call_later(self.timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._heard and self.conn.our_state is h11.IDLE:  # part of a request came: say why it ends
            self.transport.write(timeout_response(self.timeout_s))
        self.transport.close()


def deadline_protocol(timeout_s: float) -> type[DeadlineH11Protocol]:
    """The protocol class uvicorn instantiates per connection, with this server's timeout."""
    return type("DeadlineH11Protocol", (DeadlineH11Protocol,), {"timeout_s": timeout_s})


def timeout_response(timeout_s: float) -> bytes:
    """The raw HTTP/1.1 408 sent to a client whose request headers did not arrive in time."""
    body = json.dumps({"error": f"the request's headers took over {timeout_s:g} s to arrive"}).encode()
    head = (f"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n\r\n")
    return head.encode("ascii") + body


def uvicorn_config(app, host: str, port: int, limits: Limits):
    """The uvicorn.Config `barenet serve` runs: the deadline protocol, at most `limits.max_connections`
    connections and requests at once (more get 503), idle keep-alive connections closed after 5 s."""
    import uvicorn

    raise_open_files_limit(limits.max_connections + 64)
    return uvicorn.Config(app, host=host, port=port, log_level="warning", http=deadline_protocol(limits.read_timeout_s),
                          timeout_keep_alive=5, timeout_graceful_shutdown=5, limit_concurrency=limits.max_connections,
                          server_header=False)


def raise_open_files_limit(wanted: int) -> None:
    """Raise this process's soft limit on open files towards `wanted` (each connection holds one), within the hard
    limit; where that stays lower, fewer connections can be open at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
