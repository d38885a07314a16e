"""The booking fast path (regserver/fastbook.py) answers exactly as the FastAPI route, or leaves it to it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from regserver.fastbook import PATH, FastBooking
from tests.integration.conftest import Srv

pytestmark = pytest.mark.asyncio
SLOT = "10:30AM-11:30AM"


class Spy:
    """The FastAPI app, counting the requests the fast path hands on to it."""

    def __init__(self, app: Any) -> None:
        self.app, self.calls = app, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.calls += 1
        await self.app(scope, receive, send)


async def test_fast_path_answers_as_the_route_or_hands_on(srv: Srv) -> None:
    assert srv.app is not None
    spy = Spy(srv.app)
    fast = httpx.AsyncClient(transport=httpx.ASGITransport(app=FastBooking(spy, holder=srv.app)), base_url="http://f")
    plain = httpx.AsyncClient(transport=httpx.ASGITransport(app=srv.app), base_url="http://p")
    auth = await srv.login("9866666666")
    ref = await srv.register(auth)
    young = await srv.register(auth, birth_year=2020)
    staff = await srv.staff()

    def book(refs: list[str], **other: object) -> dict[str, object]:
        return {"dose": 1, "session_id": srv.alibag, "slot": SLOT, "beneficiaries": refs, **other}

    async def both(content: bytes, headers: dict[str, str]) -> tuple[httpx.Response, httpx.Response]:
        a = await fast.post(PATH, content=content, headers=headers)
        b = await plain.post(PATH, content=content, headers=headers)
        return a, b

    json_auth = {**auth, "Content-Type": "application/json"}
    # Refusals decided by the booking itself: the fast path answers them, as the route would.
    refused = [
        book([ref], session_id="nope"),
        book([ref], slot="09:00AM-10:00AM"),
        book(["01234567890123"]),
        book([ref, young]),
        book([ref], dose=2),
        book([ref], center_id=5),
    ]
    for body in refused:
        calls = spy.calls
        a, b = await both(httpx.Request("POST", "/", json=body).content, json_auth)
        assert spy.calls == calls, body  # not handed on
        assert (a.status_code, a.headers["content-type"], a.content) == (
            b.status_code,
            b.headers["content-type"],
            b.content,
        ), body
        assert a.status_code in (400, 404, 409)
    # Everything FastAPI itself refuses is handed on, body intact: the same answer.
    good = httpx.Request("POST", "/", json=book([ref])).content
    handed_on = [
        (httpx.Request("POST", "/", json=book([ref], dose=3)).content, json_auth),
        (httpx.Request("POST", "/", json=book([ref], extra=1)).content, json_auth),
        (b"[1, 2]", json_auth),
        (b"{not json", json_auth),
        (b"\xff\xfe", json_auth),
        (good, {"Content-Type": "application/json"}),
        (good, {"Content-Type": "application/json", "Authorization": "Bearer nope"}),
        (good, {"Content-Type": "application/json", "Authorization": "Basic abc"}),
        (good, {**staff, "Content-Type": "application/json"}),
        (good, {**auth, "Content-Type": "text/plain"}),
    ]
    for content, headers in handed_on:
        calls = spy.calls
        a, b = await both(content, headers)
        assert spy.calls == calls + 1, content
        assert (a.status_code, a.content) == (b.status_code, b.content), content
        assert a.status_code in (401, 403, 422), (content, a.text)
    # A good booking: answered by the fast path, stored (the route then refuses it as already booked).
    calls = spy.calls
    r = await fast.post(PATH, content=good, headers=json_auth)
    assert spy.calls == calls
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert list(r.json()) == ["appointment_confirmation_no"]
    uuid.UUID(r.json()["appointment_confirmation_no"])
    again = await plain.post(PATH, content=good, headers=json_auth)
    assert (again.status_code, again.json()["errorCode"]) == (409, "APPOIN0041")
    await fast.aclose()
    await plain.aclose()


async def test_the_server_stack_labels_fast_bookings_with_their_route(srv: Srv) -> None:
    auth = await srv.login("9866666667")
    ref = await srv.register(auth)
    body = {"dose": 1, "session_id": srv.alibag, "slot": SLOT, "beneficiaries": [ref]}
    labels = {"route": PATH, "method": "POST", "status": "200"}
    before = REGISTRY.get_sample_value("vaxdrill_requests_total", labels) or 0.0
    r = await srv.client.post(PATH, json=body, headers=auth)
    assert r.status_code == 200, r.text
    assert REGISTRY.get_sample_value("vaxdrill_requests_total", labels) == before + 1, "counted under its route"
