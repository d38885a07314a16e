"""Attempt limits on logging in: per client address and per staff account, shared by every worker.

A fixed window per key, counted in the database (``ip_hits``) so that all workers add to one count:
a guesser spread over workers gets no more tries than one on a single worker.
"""

from __future__ import annotations

import time

from fastapi import Request

from regserver.db import ip_hits
from regserver.errors import ApiProblem
from regserver.metrics import RATE_LIMITED
from regserver.state import ServerState


async def count_attempt(st: ServerState, key: str, limit: int, window: float) -> int:
    """Count one attempt against ``key``; 0 if within ``limit``, else seconds until its window ends."""
    if limit <= 0:
        return 0
    now = time.time()
    slot = int(now // window)
    stmt = st.db.upsert_add(ip_hits, ["ip", "window"], "hits", 1).values(ip=key[:64], window=slot, hits=1)
    async with st.db.write() as conn:
        hits = int((await conn.execute(stmt.returning(ip_hits.c.hits))).scalar_one())
    if hits <= limit:
        return 0
    return max(int((slot + 1) * window - now) + 1, 1)


def _refuse(wait: int, what: str) -> ApiProblem:
    RATE_LIMITED.inc()
    return ApiProblem(429, "AUTH_RATE_LIMIT", f"too many {what}; retry in {wait} s", {"Retry-After": str(wait)})


async def check_address(st: ServerState, request: Request) -> None:
    """Raise 429 once this client address has made more than its share of login and OTP attempts."""
    cfg = st.config
    address = request.client.host if request.client is not None else "unknown"
    wait = await count_attempt(st, f"auth:{address}", cfg.auth_per_ip_limit, cfg.auth_window)
    if wait:
        raise _refuse(wait, "login and OTP attempts from this address")


async def check_staff_account(st: ServerState, center_id: int, staff_id: str) -> None:
    """Raise 429 once this staff account has had more than its share of login attempts (right or wrong)."""
    cfg = st.config
    wait = await count_attempt(st, f"staff:{center_id}:{staff_id}", cfg.staff_login_limit, cfg.auth_window)
    if wait:
        raise _refuse(wait, "login attempts for this staff account")
