"""Attempt limits on logging in: per client address and per staff account, shared by every worker.

Counted in the database (``ip_hits``, one row per key and fixed window) so that all workers add to
one count: a guesser spread over workers gets no more tries than one on a single worker. The limit
holds over any ``window`` seconds, not per clock window: an attempt is admitted when the attempts of
the current clock window plus those of the previous one, weighted by the share of it still inside
the last ``window`` seconds, are within the limit (a sliding-window counter). Plain clock windows
would let a guesser spend the limit just before a boundary and again just after it: twice the limit
in a few seconds.
"""

from __future__ import annotations

import math
import time

import sqlalchemy as sa
from fastapi import Request

from regserver.db import ip_hits
from regserver.errors import ApiProblem
from regserver.metrics import RATE_LIMITED
from regserver.state import ServerState


async def count_attempt(st: ServerState, key: str, limit: int, window: float, now: float | None = None) -> int:
    """Count one attempt against ``key``; 0 if within ``limit``, else whole seconds to wait."""
    if limit <= 0:
        return 0
    now = time.time() if now is None else now
    slot = int(now // window)
    key = key[:64]
    stmt = st.db.upsert_add(ip_hits, ["ip", "window"], "hits", 1).values(ip=key, window=slot, hits=1)
    earlier = sa.select(ip_hits.c.hits).where(ip_hits.c.ip == key, ip_hits.c.window == slot - 1)
    async with st.db.write() as conn:
        hits = int((await conn.execute(stmt.returning(ip_hits.c.hits))).scalar_one())
        prev = int((await conn.execute(earlier)).scalar() or 0)
    gone = now / window - slot  # share of the current clock window already past
    if hits + prev * (1.0 - gone) <= limit:
        return 0
    return retry_after(hits, prev, gone, limit, window)


def retry_after(hits: int, prev: int, gone: float, limit: int, window: float) -> int:
    """Seconds until one more attempt would be admitted, if no other is made meanwhile (at least 1)."""
    # Later in this clock window as the previous one slides out, else in the next clock window as this
    # one slides out (then hits >= limit >= 1); ``at`` is in clock windows from this one's start.
    at = 1.0 - (limit - hits - 1) / prev if prev > 0 and hits + 1 <= limit else 2.0 - (limit - 1) / hits
    return math.floor((at - gone) * window + 1e-6) + 1  # the first whole second past that moment


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
