"""The ASGI layer in front of every route: metrics, load shedding, the per-IP limit, injected faults.

Order matters: a request over the hard in-flight cap (``--max-in-flight``) is refused before it costs
anything (503 with ``Retry-After`` at once, no queue); then a body over its route's size limit
(regserver/bodies.py: 413 before it is read, parsed or authenticated; admin and operations routes
too); then the per-IP limit (429); then the fault plan;
then the adaptive concurrency limit (regserver/limiter.py), which sheds with 503 as soon as answers
run later than ``--latency-target``. Requests an injected fault delays (latency, slow_db) bypass the
adaptive limit: a drill's injected slowness must not read as overload. Admin and operations routes
skip all of it, so a drill can always see and clear what is going on.
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

from regserver.bodies import limit_for, within
from regserver.db import db_delay
from regserver.limiter import AdaptiveLimit
from regserver.metrics import CONCURRENCY_LIMIT, FAULTED, IN_FLIGHT, LATENCY, RATE_LIMITED, REQUESTS, SHED

EXEMPT_PREFIXES = (
    "/api/v2/admin/faults",
    "/api/v2/admin/vaccinations",
    "/api/v2/admin/sessions",
    "/api/v2/admin/staff",
    "/api/v2/admin/keys",
)
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


_SHED_BODY = json.dumps({"errorCode": "OVERLOADED", "error": "server busy; retry later"}).encode()
_SHED_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_SHED_BODY)).encode()),
    (b"retry-after", b"1"),
]


async def _shed(send: Send) -> None:
    """503 at once, from bytes made once: under overload most requests end here."""
    SHED.inc()
    await send({"type": "http.response.start", "status": 503, "headers": _SHED_HEADERS})
    await send({"type": "http.response.body", "body": _SHED_BODY})


class Guard:
    """Wraps the app; reads the live :class:`~regserver.state.ServerState` from ``app.state``."""

    def __init__(self, app: ASGIApp, holder: Any) -> None:
        self.app = app
        self.holder = holder  # the FastAPI app, whose state.server appears at start-up
        self.in_flight = 0
        self.limit: AdaptiveLimit | None = None  # made from the config once the app has started
        self._limit_seen = 0
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

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
        admitted = 0.0  # when the adaptive limit admitted this request (0: it did not take a slot)
        try:
            exempt = path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)
            st = getattr(self.holder.state, "server", None)
            if not exempt and st is not None:
                cfg = st.config
                if cfg.max_in_flight and self.in_flight > cfg.max_in_flight:
                    label = "shed"
                    await _shed(watch)
                    return
            if st is not None:
                most = limit_for(path, st.config)
                limited = await within(scope, receive, most)
                if limited is None:
                    label = "too_large"
                    await _answer(watch, 413, "BODY_TOO_LARGE", f"request body over {most} bytes for this route")
                    return
                receive = limited
            if not exempt and st is not None:
                cfg = st.config
                if cfg.per_ip_limit and scope.get("client"):
                    try:
                        wait = await _per_ip(st, scope["client"][0])
                    except Exception:  # fail closed: a limit nobody can count is no limit
                        label = "rate_limited"
                        msg = "the per-address limit cannot be checked (database unavailable); retry later"
                        await _answer(watch, 503, "RATE_LIMIT_UNAVAILABLE", msg, {"Retry-After": "1"})
                        return
                    if wait:
                        RATE_LIMITED.inc()
                        label = "rate_limited"
                        msg = f"more than {cfg.per_ip_limit} calls in {int(cfg.per_ip_window)} s from this address"
                        await _answer(watch, 429, "RATE_LIMIT", msg, {"Retry-After": str(wait)})
                        return
                delayed = False
                if st.plan.items:
                    answered, delayed = await self._faults(st, path, watch, send)
                    if answered:
                        label = "faulted"
                        return
                limit = self._adaptive(cfg)
                if limit is not None and not delayed:
                    if not limit.try_acquire():
                        label = "shed"
                        await _shed(watch)
                        return
                    admitted = time.perf_counter()
            await self.app(scope, receive, watch)
            route = scope.get("route")
            label = getattr(route, "path", label)
        finally:
            self.in_flight -= 1
            IN_FLIGHT.dec()
            ended = time.perf_counter()
            if admitted and self.limit is not None:
                self.limit.release(ended - admitted)
                if int(self.limit.limit) != self._limit_seen:
                    self._limit_seen = int(self.limit.limit)
                    CONCURRENCY_LIMIT.set(self._limit_seen)
            counted = self._series.get((label, scope.get("method", ""), status))
            if counted is None:
                counted = self._series_for(label, scope.get("method", ""), status)
            counted[0].inc()
            counted[1].observe(ended - started)

    def _series_for(self, label: str, method: str, status: int) -> tuple[Any, Any]:
        """The request counter and latency histogram of one (route, method, status), looked up once."""
        series = (REQUESTS.labels(label, method, str(status)), LATENCY.labels(label, method))
        if len(self._series) < 10_000:  # a bound, whatever paths a scanner tries
            self._series[(label, method, status)] = series
        return series

    def _adaptive(self, cfg: Any) -> AdaptiveLimit | None:
        if self.limit is None and cfg.latency_target > 0:
            cap = cfg.max_in_flight or 10_000
            self.limit = AdaptiveLimit(target=cfg.latency_target, max_limit=cap)
            self._limit_seen = int(self.limit.limit)
            CONCURRENCY_LIMIT.set(self._limit_seen)
        return self.limit

    async def _faults(self, st: Any, path: str, send: Send, raw_send: Send) -> tuple[bool, bool]:
        """Apply live faults matching ``path``: (a fault answered or dropped the request, a delay was injected)."""
        plan = st.plan
        now = time.time()
        delay = 0.0
        slowed = False
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
                    return True, False
                wait = max(int(item.ends_at - time.time()) + 1, 1)
                await _answer(send, 503, "OUTAGE", "service unavailable (injected outage)", {"Retry-After": str(wait)})
                return True, False
            if fault.kind == "error_rate" and plan.chance(fault.rate or 0.0):
                FAULTED.labels("error_rate").inc()
                await _answer(send, fault.status, "INJECTED_ERROR", "injected server error")
                return True, False
            if fault.kind == "latency":
                FAULTED.labels("latency").inc()
                delay += plan.draw(fault)
            elif fault.kind == "slow_db":
                FAULTED.labels("slow_db").inc()
                db_delay.set(db_delay.get() + plan.draw(fault))
                slowed = True
        if delay > 0:
            await asyncio.sleep(delay)
        return False, slowed or delay > 0


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
