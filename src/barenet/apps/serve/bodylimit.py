"""`BodyLimit`: an ASGI middleware that reads each request body in full before the app sees it,
refusing one over the size limit (413) or one that takes too long to arrive (408).

Reading the body here, once, means no route can be handed an unbounded body, and a client
that trickles bytes cannot hold a worker for longer than the timeout: its 408 (or 413) says
`Connection: close`, so the connection ends with the answer (connections.py times the headers).
"""

from __future__ import annotations

import asyncio


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app, max_bytes: int, timeout_s: float):
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not declared.isdigit():
            await _error(scope, receive, send, 400, "the Content-Length header is not a number")
            return
        try:
            if int(declared) > self.max_bytes:
                raise _TooLarge
            body = await asyncio.wait_for(self._read(receive), self.timeout_s)
        except _TooLarge:
            await _error(scope, receive, send, 413, f"the request body is over {self.max_bytes:,} bytes: "
                                                    f"send a smaller image or batch")
            return
        except TimeoutError:
            await _error(scope, receive, send, 408, f"the request body took over {self.timeout_s:g} s to arrive")
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                raise _TooLarge
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive):
    """A `receive` that gives the buffered body once, then waits on the real one (for the disconnect)."""
    sent = False

    async def replayed():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _error(scope, receive, send, status: int, message: str) -> None:
    from starlette.responses import JSONResponse

    await JSONResponse({"error": message}, status_code=status, headers={"Connection": "close"})(scope, receive, send)
