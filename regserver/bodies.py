"""Request body limits, checked by the guard before a byte of the body is parsed or any token checked.

Each route gets ``body_limit`` bytes (small: every request body but a batch sync is a few hundred
bytes); ``/api/v2/staff/sync`` gets ``sync_body_limit``. A ``Content-Length`` over the limit is
refused at once, without reading the body. A chunked body (no ``Content-Length``) is read up to
the limit and handed on from memory, or refused as soon as it passes the limit.

FastAPI's own ``max_body_size`` checks when the route reads its body, and answers a declared
``Content-Length`` over the limit in plain text; the API's errors are JSON with an ``errorCode``.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Message, Receive, Scope

SYNC_PATH = "/api/v2/staff/sync"


def limit_for(path: str, config: Any) -> int:
    """The largest body (bytes) ``path`` accepts."""
    return int(config.sync_body_limit if path == SYNC_PATH else config.body_limit)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


async def within(scope: Scope, receive: Receive, limit: int) -> Receive | None:
    """A ``receive`` giving the request's body if it is at most ``limit`` bytes; None if it is larger."""
    length = _header(scope, b"content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            return receive  # the server refuses a malformed Content-Length itself
        # The HTTP server never hands on more than the declared length.
        return receive if declared <= limit else None
    if _header(scope, b"transfer-encoding") is None:
        return receive  # no body
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return receive  # the client went away: let the app see it
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
