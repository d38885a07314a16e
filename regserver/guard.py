"""The ASGI layer in front of every route: metrics, load shedding, the per-IP limit, injected faults.

Order matters: a request over the in-flight limit is refused before it costs anything (503 with
``Retry-After`` at once, no queue); then the per-IP limit (429); then the fault plan. Admin and
operations routes skip all three, so a drill can always see and clear what is going on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regserver.db import db_delay
from regserver.metrics import FAULTED, IN_FLIGHT, LATENCY, RATE_LIMITED, REQUESTS, SHED

EXEMPT_PREFIXES = ("/api/v2/admin/faults", "/api/v2/admin/vaccinations", "/api/v2/admin/sessions")
EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics", "/openapi.json", "/docs"})


async def _answer(send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"errorCode": code, "error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _reset(send: Send) -> bool:
    """Abort the TCP connection with a RST (uvicorn's cycle holds the transport); False if impossible."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


class Guard:
    """Wraps the app; reads the live :class:`~regserver.state.ServerState` from ``app.state``."""

    def __init__(self, app: ASGIApp, holder: Any) -> None:
        self.app = app
        self.holder = holder  # the FastAPI app, whose state.server appears at start-up
        self.in_flight = 0

    @property
    def state(self) -> Any:
        return self.holder.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        started = time.perf_counter()
        status = 500
        label = "unmatched"

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.in_flight += 1
        IN_FLIGHT.inc()
        try:
            exempt = path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)
            st = getattr(self.holder.state, "server", None)
            if not exempt and st is not None:
                cfg = st.config
                if cfg.max_in_flight and self.in_flight > cfg.max_in_flight:
                    SHED.inc()
                    label = "shed"
                    await _answer(watch, 503, "OVERLOADED", "server busy; retry later", {"Retry-After": "1"})
                    return
                if cfg.per_ip_limit and scope.get("client"):
                    try:
                        wait = await _per_ip(st, scope["client"][0])
                    except Exception:  # the limit is advisory: a busy database must not fail the request
                        wait = 0
                    if wait:
                        RATE_LIMITED.inc()
                        label = "rate_limited"
                        msg = f"more than {cfg.per_ip_limit} calls in {int(cfg.per_ip_window)} s from this address"
                        await _answer(watch, 429, "RATE_LIMIT", msg, {"Retry-After": str(wait)})
                        return
                if st.plan.items and await self._faults(st, path, watch, send):
                    label = "faulted"
                    return
            await self.app(scope, receive, watch)
            route = scope.get("route")
            label = getattr(route, "path", label)
        finally:
            self.in_flight -= 1
            IN_FLIGHT.dec()
            method = scope.get("method", "")
            REQUESTS.labels(label, method, str(status)).inc()
            LATENCY.labels(label, method).observe(time.perf_counter() - started)

    async def _faults(self, st: Any, path: str, send: Send, raw_send: Send) -> bool:
        """Apply live faults matching ``path``; True if a fault answered (or dropped) the request."""
        plan = st.plan
        now = time.time()
        delay = 0.0
        for item in plan.live(path, now):
            fault = item.fault
            if fault.kind == "outage":
                FAULTED.labels("outage").inc()
                if fault.mode == "hang":
                    # Hold the request until the outage ends or is cleared; clients time out long before.
                    while time.time() < item.ends_at and any(f.fault_id == item.fault_id for f in plan.items):
                        await asyncio.sleep(min(0.25, max(item.ends_at - time.time(), 0.0)))
                elif fault.mode == "reset" and _reset(raw_send):
                    await asyncio.sleep(0.01)  # let the server see the connection is gone
                    return True
                wait = max(int(item.ends_at - time.time()) + 1, 1)
                await _answer(send, 503, "OUTAGE", "service unavailable (injected outage)", {"Retry-After": str(wait)})
                return True
            if fault.kind == "error_rate" and plan.chance(fault.rate or 0.0):
                FAULTED.labels("error_rate").inc()
                await _answer(send, fault.status, "INJECTED_ERROR", "injected server error")
                return True
            if fault.kind == "latency":
                FAULTED.labels("latency").inc()
                delay += plan.draw(fault)
            elif fault.kind == "slow_db":
                FAULTED.labels("slow_db").inc()
                db_delay.set(db_delay.get() + plan.draw(fault))
        if delay > 0:
            await asyncio.sleep(delay)
        return False


async def _per_ip(st: Any, ip: str) -> int:
    """Count this call against ``ip``'s window (shared by all workers); seconds to wait if over."""
    cfg = st.config
    now = time.time()
    window = int(now // cfg.per_ip_window)
    from regserver.db import ip_hits

    async with st.db.write() as conn:
        stmt = st.db.upsert_add(ip_hits, ["ip", "window"], "hits", 1).values(ip=ip, window=window, hits=1)
        hits = int((await conn.execute(stmt.returning(ip_hits.c.hits))).scalar_one())
    if hits <= cfg.per_ip_limit:
        return 0
    return max(int((window + 1) * cfg.per_ip_window - now) + 1, 1)
