"""Launch day's hottest write, ``POST /api/v2/appointment/schedule``, past FastAPI's generic request path.

FastAPI spends more CPU on a booking than the booking does (routing, its middleware stack, solving
the token dependency, reading and validating the body, building a Request and a Response: about
300 us of a 2-core machine's time). A well-formed booking with a good citizen token is answered here
instead, by the route's own code (:func:`regserver.booking.book`), from the same body model; its
answers, refusals and database errors are the route's, through the app's own exception handlers.

Anything else (another path or method, no or another content type, a body that is not JSON or fails
validation, a missing, bad or expired token, or a server not started yet) goes on to FastAPI with
the body replayed untouched, so every error answer stays FastAPI's: one behaviour, one OpenAPI
document (the route is still declared there).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regserver import schemas as s
from regserver.booking import book
from regserver.errors import ApiProblem, error_response
from regserver.security import TokenError

PATH = "/api/v2/appointment/schedule"
_JSON = b"application/json"


def _headers(scope: Scope) -> tuple[bytes | None, bytes | None]:
    """The first ``Authorization`` and ``Content-Type`` headers (as Starlette's ``headers.get``)."""
    auth = kind = None
    for key, value in scope["headers"]:
        key = key.lower()
        if key == b"authorization" and auth is None:
            auth = value
        elif key == b"content-type" and kind is None:
            kind = value
    return auth, kind


def _mobile(st: Any, auth: bytes | None) -> str | None:
    """The citizen's mobile if ``auth`` is a good citizen bearer token; None sends FastAPI the request."""
    if auth is None:
        return None
    scheme, _, token = auth.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        claims = st.signer.verify(token)
    except TokenError:
        return None
    return claims.subject if claims.kind == "citizen" else None


class FastBooking:
    """ASGI layer in front of the FastAPI ``app``; see the module's docstring."""

    def __init__(self, app: ASGIApp, holder: Any) -> None:
        self.app = app
        self.holder = holder  # the FastAPI app: its state.server, exception handlers and routes
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        st = getattr(self.holder.state, "server", None)
        auth, kind = _headers(scope)
        mobile = _mobile(st, auth) if st is not None and kind == _JSON else None
        if st is None or mobile is None:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                await self.app(scope, _replay(messages, receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        try:
            body = s.Schedule.model_validate(json.loads(b"".join(chunks)))  # as FastAPI: json.loads, then python mode
        except Exception:  # not JSON, not UTF-8, invalid (ValidationError), too deep: FastAPI's own answer
            await self.app(scope, _replay(messages, receive), send)
            return
        scope["route"] = self._route or self._find_route()  # the guard's metrics label, as FastAPI sets it
        try:
            appointment_id = await book(st, body, mobile)
        except ApiProblem as exc:
            await error_response(exc.status, exc.code, exc.message, exc.headers)(scope, receive, send)
            return
        except Exception as exc:  # database trouble and the unexpected: the app's own handlers answer
            handler = self._handler(exc)
            if handler is None:
                raise
            await (await handler(Request(scope, receive), exc))(scope, receive, send)
            return
        answer = json.dumps({"appointment_confirmation_no": appointment_id}).encode()
        headers = [(b"content-length", str(len(answer)).encode()), (b"content-type", _JSON)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def _find_route(self) -> Any:
        for route in self.holder.router.routes:
            if getattr(route, "path", None) == PATH and "POST" in (getattr(route, "methods", None) or ()):
                self._route = route
        return self._route

    def _handler(self, exc: Exception) -> Any:
        """The app's exception handler for ``exc``, found by its classes in order (as Starlette does)."""
        handlers = self.holder.exception_handlers
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives ``messages`` again, then goes on with ``receive``."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
