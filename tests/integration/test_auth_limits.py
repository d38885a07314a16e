"""Staff logins and OTPs are limited per account and per address by default (429 with Retry-After)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from regserver.config import ServerConfig
from regserver.limits import count_attempt, retry_after
from tests.integration.conftest import STAFF, Srv, config_for, start
from vaxdrill.core.scenario.model import Scenario

LOGIN = "/api/v2/staff/login"
DEFAULTS = ServerConfig()


@pytest_asyncio.fixture
async def guarded(tmp_path: Path, raigad: Scenario) -> AsyncIterator[Srv]:
    """A server with the default limits (the suite's other servers turn them off, as a drill does)."""
    config = config_for(
        f"sqlite:///{tmp_path / 'server.db'}",
        auth_per_ip_limit=DEFAULTS.auth_per_ip_limit,
        staff_login_limit=DEFAULTS.staff_login_limit,
        # Counts start afresh at each window boundary (15 min by default, on the clock): a test that
        # crossed one would see twice the limit. One window from 1970 to 2128 cannot be crossed.
        auth_window=5e9,
    )
    async for s in start(config, raigad):
        yield s


def test_limits_are_on_by_default() -> None:
    assert DEFAULTS.auth_per_ip_limit > 0 and DEFAULTS.staff_login_limit > 0
    assert DEFAULTS.admin_token == ""  # no default secret: refuse everyone


@pytest.mark.asyncio
async def test_wrong_staff_secrets_are_cut_off_per_account(guarded: Srv) -> None:
    body = {"center_id": 100001, "staff_id": "drill", "secret": "guess"}
    answers = []
    for _ in range(6):  # 300 guesses, 50 at a time (the server sheds beyond 200 in flight)
        answers += await asyncio.gather(*[guarded.client.post(LOGIN, json=body) for _ in range(50)])
    codes = [r.status_code for r in answers]
    assert codes.count(401) <= DEFAULTS.staff_login_limit
    limited = [r for r in answers if r.status_code == 429]
    assert len(limited) >= 300 - DEFAULTS.staff_login_limit
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json()["errorCode"] == "AUTH_RATE_LIMIT"
    # The account stays locked for the window, even with the right secret.
    right = await guarded.client.post(LOGIN, json={**body, "secret": STAFF})
    assert right.status_code == 429


@pytest.mark.asyncio
async def test_staff_logins_are_limited_per_address(guarded: Srv) -> None:
    codes = []
    for i in range(DEFAULTS.auth_per_ip_limit + 5):
        r = await guarded.client.post(LOGIN, json={"center_id": 100001, "staff_id": f"s{i}", "secret": "guess"})
        codes.append(r.status_code)
    assert codes[: DEFAULTS.auth_per_ip_limit] == [401] * DEFAULTS.auth_per_ip_limit
    assert set(codes[DEFAULTS.auth_per_ip_limit :]) == {429}


@pytest.mark.asyncio
async def test_otp_requests_are_limited_per_address(guarded: Srv) -> None:
    answers = []
    for i in range(200):
        r = await guarded.client.post("/api/v2/auth/public/generateOTP", json={"mobile": f"9{i:09d}"})
        answers.append(r)
    codes = [r.status_code for r in answers]
    assert codes.count(200) == DEFAULTS.auth_per_ip_limit
    assert codes.count(429) == 200 - DEFAULTS.auth_per_ip_limit
    assert "Retry-After" in answers[-1].headers
    confirm = await guarded.client.post(
        "/api/v2/auth/public/confirmOTP", json={"otp": "0" * 64, "txnId": answers[0].json()["txnId"]}
    )
    assert confirm.status_code == 429


@pytest.mark.asyncio
async def test_the_limits_can_be_turned_off(srv: Srv) -> None:
    for i in range(DEFAULTS.auth_per_ip_limit + 5):
        r = await srv.client.post("/api/v2/auth/public/generateOTP", json={"mobile": f"8{i:09d}"})
        assert r.status_code == 200, r.text


@pytest.mark.asyncio
async def test_the_limit_holds_across_a_clock_window_boundary(guarded: Srv) -> None:
    """A guesser who spends the limit just before a boundary gets nothing more just after it."""
    limit, window = 10, 100.0
    boundary = 1_000 * window

    async def attempt(at: float) -> int:
        return await count_attempt(guarded.state, "auth:192.0.2.7", limit, window, now=at)

    assert [await attempt(boundary - 5 + i * 0.1) for i in range(limit)] == [0] * limit
    assert await attempt(boundary - 4) > 0  # the eleventh in the same clock window
    # One second past the boundary a plain clock window would start afresh; 99% of the last one
    # still counts (11 attempts), so the limit holds, and the wait says when it frees up.
    wait = await attempt(boundary + 1)
    assert wait == 27  # 2 + 11 x (1 - 27.3%) = 10 attempts: room for one more at 27.3 s
    assert await attempt(boundary + 1 + wait) == 0
    assert await attempt(boundary + 1 + wait + 0.1) > 0  # and only one
    assert await attempt(boundary + 95) == 0  # the earlier window has slid almost out


def _fits(hits: int, prev: int, limit: int, share: float) -> bool:
    """Whether one more attempt, ``share`` of a clock window after the current one began, is admitted."""
    if share < 1.0:  # still in the current clock window
        return hits + 1 + prev * (1.0 - share) <= limit
    return 1 + hits * (2.0 - share) <= limit  # in the next one, the current one sliding out


@pytest.mark.parametrize(
    ("hits", "prev", "gone", "limit"),
    [(1, 12, 0.1, 10), (3, 11, 0.01, 10), (15, 0, 0.5, 10), (10, 4, 0.9, 10), (1, 10, 0.999, 1), (100, 100, 0.3, 100)],
)
def test_the_wait_is_until_one_more_attempt_fits(hits: int, prev: int, gone: float, limit: int) -> None:
    window = 60.0
    assert not _fits(hits, prev, limit, gone)  # refused now
    wait = retry_after(hits, prev, gone, limit, window)
    assert wait >= 1
    assert _fits(hits, prev, limit, gone + wait / window)  # room when the wait is over
    assert wait < 2 or not _fits(hits, prev, limit, gone + (wait - 1.5) / window)  # and not much sooner
