"""Error answers: JSON ``{"errorCode", "error"}`` with a 4xx/5xx status, never a traceback.

Handlers turn validation errors into one readable sentence per field (422), database contention into
503 with ``Retry-After``, and anything unexpected into a logged 500 with no request data in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("regserver")


class ApiProblem(Exception):
    """Raise to answer ``status`` with ``{errorCode, error}`` (and optional headers)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errorCode": code, "error": message}, status_code=status, headers=headers)


# Error answers are declared per route with the errorCodes each status may carry, so the OpenAPI schema
# (and schemathesis) know every answer: its status, its shape and its code.
_MEANING = {
    "400": "bad request",
    "401": "missing, invalid or expired credentials",
    "403": "credentials of the wrong kind, or for another centre",
    "404": "not found",
    "405": "method not allowed",
    "409": "conflict",
    "410": "gone",
    "413": "request body over the route's size limit",
    "422": "invalid request (VALIDATION names the field) or a refused business rule",
    "429": "too many requests (see Retry-After)",
    "500": "unexpected failure, or an injected error",
    "503": "overloaded, outage or database busy (see Retry-After)",
    "5XX": "an injected error (an error_rate fault's status)",
}
# What any API route may answer: an unparsable or oversized body, validation, the guard (shedding,
# per-IP limit, faults), database trouble.
COMMON: dict[str, tuple[str, ...]] = {
    "400": ("BAD_REQUEST",),
    "405": ("METHOD_NOT_ALLOWED",),
    "413": ("BODY_TOO_LARGE",),
    "422": ("VALIDATION",),
    "429": ("RATE_LIMIT",),
    "500": ("INTERNAL", "DB_ERROR", "INJECTED_ERROR"),
    "503": ("OVERLOADED", "OUTAGE", "DB_BUSY", "RATE_LIMIT_UNAVAILABLE"),
    "5XX": ("INJECTED_ERROR",),
}
TOKEN = {"401": ("AUTH_MISSING", "AUTH_MALFORMED", "AUTH_INVALID"), "403": ("AUTH_WRONG_KIND",)}
"""A citizen or staff token's refusals."""
ADMIN = {"401": ("AUTH_MISSING", "AUTH_MALFORMED"), "403": ("AUTH_FORBIDDEN",)}


def answers(*groups: dict[str, tuple[str, ...]], **codes: tuple[str, ...]) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses``: :data:`COMMON`, then each group, then ``s404=("SESSION_NOT_FOUND",)`` ...

    Each status gets the error body's schema with ``errorCode`` limited to the codes listed.
    """
    merged: dict[str, list[str]] = {}
    for group in (COMMON, *groups, {key.removeprefix("s"): value for key, value in codes.items()}):
        for status, names in group.items():
            merged.setdefault(status, []).extend(n for n in names if n not in merged.get(status, []))
    out: dict[int | str, dict[str, Any]] = {}
    for status, listed in sorted(merged.items()):
        schema = {
            "type": "object",
            "title": "ApiError",
            "required": ["errorCode", "error"],
            "properties": {"errorCode": {"type": "string", "enum": listed}, "error": {"type": "string"}},
        }
        out[int(status) if status.isdigit() else status] = {
            "description": f"{_MEANING[status]}: {', '.join(listed)}",
            "content": {"application/json": {"schema": schema}},
        }
    return out


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def describe_validation(errors: Any) -> str:
    out = []
    for err in list(errors)[:5]:
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        out.append(f"{_field(tuple(err.get('loc', ())))}: {message}")
    return "; ".join(out)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _problem(_request: Request, exc: ApiProblem) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "VALIDATION", describe_validation(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 400: a body that cannot be parsed at all (not JSON, not UTF-8), which FastAPI refuses before validation.
        code = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette lists only the first matching route's methods; a path may have several routes.
            methods = {
                m
                for route in request.app.routes
                if getattr(route, "path_regex", None) is not None and route.path_regex.match(request.url.path)
                for m in getattr(route, "methods", None) or ()
            }
            headers["Allow"] = ", ".join(sorted(methods))
        return error_response(exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(PoolTimeout)
    async def _pool(_request: Request, _exc: PoolTimeout) -> JSONResponse:
        return error_response(503, "DB_BUSY", "database busy; retry later", {"Retry-After": "1"})

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database operational error on %s: %s", request.url.path, type(exc.orig).__name__)
        return error_response(503, "DB_BUSY", "database busy or unreachable; retry later", {"Retry-After": "1"})

    @app.exception_handler(DBAPIError)
    async def _db(request: Request, exc: DBAPIError) -> JSONResponse:
        log.error("database error on %s: %s", request.url.path, type(exc.orig).__name__)
        return error_response(500, "DB_ERROR", "database error")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The request body is never logged: it may hold a mobile or photo ID number.
        log.error("unexpected %s on %s", type(exc).__name__, request.url.path)
        return error_response(500, "INTERNAL", "internal error")


class ContainErrors:
    """Stop an exception at the app's edge once it has been answered and logged.

    Starlette answers an unexpected exception with the 500 handler above, then raises it again, and
    uvicorn prints its traceback, pydantic's input values (mobiles, photo ID numbers) included. Here it
    ends: answered 500 if nothing was sent yet, logged as one line (type and path) by the handler.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                return  # the handler has answered and logged it
            log.error("unexpected %s on %s", type(exc).__name__, scope.get("path", ""))
            response = error_response(500, "INTERNAL", "internal error")
            await response(scope, receive, send)


class PathsOnly(logging.Filter):
    """uvicorn's request lines with the path alone: a query string may hold a mobile or a date of birth."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def quiet_access_log() -> None:
    """Install :class:`PathsOnly` on uvicorn's access logger (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, PathsOnly) for f in logger.filters):
        logger.addFilter(PathsOnly())
