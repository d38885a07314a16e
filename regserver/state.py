"""What a worker holds while it runs, and the token checks every protected route uses."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from regserver.batcher import BookingBatcher
from regserver.config import ServerConfig
from regserver.db import Database
from regserver.errors import ApiProblem
from regserver.faults import FaultPlan
from regserver.security import Claims, KeyRing, TokenError, TokenSigner
from regserver.sms import SmsGateway


@dataclass
class TtlCache:
    """Per-worker cache of read answers (availability, counters) for at most ``ttl`` seconds.

    Per process on purpose: an answer is at most ``ttl`` old, which is what its
    ``Cache-Control: max-age`` promises, whichever worker gives it.
    """

    ttl: float
    items: dict[Any, tuple[float, bytes]] = field(default_factory=dict)

    def get(self, key: Any, now: float) -> tuple[bytes, int] | None:
        hit = self.items.get(key)
        if hit is None or hit[0] <= now:
            return None
        return hit[1], max(int(hit[0] - now), 0)

    def put(self, key: Any, body: bytes, now: float) -> None:
        if len(self.items) > 10_000:
            self.items.clear()
        self.items[key] = (now + self.ttl, body)

    def clear(self) -> None:
        self.items.clear()


@dataclass
class ServerState:
    config: ServerConfig
    db: Database
    keys: KeyRing
    plan: FaultPlan
    sms: SmsGateway
    cache: TtlCache
    batcher: BookingBatcher
    # A session's centre, date, slots and age limit never change while the server runs (its seats
    # do, and are never read from here), so each worker keeps them after the first look-up.
    session_meta: dict[str, Any] = field(default_factory=dict)

    @property
    def signer(self) -> TokenSigner:
        """Signs and checks tokens of the current key generation."""
        return self.keys.signer


# Dependencies are ``async def``: FastAPI runs plain ``def`` dependencies in a thread pool, a thread
# hop per request that costs more than the work itself.
async def state_of(request: Request) -> ServerState:
    st: ServerState = request.app.state.server
    return st


State = Annotated[ServerState, Depends(state_of)]


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise ApiProblem(401, "AUTH_MISSING", "missing Authorization: Bearer <token> header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(401, "AUTH_MALFORMED", "expected Authorization: Bearer <token>")
    return token.strip()


def _claims(request: Request, authorization: str | None, kind: str) -> Claims:
    st: ServerState = request.app.state.server
    try:
        claims = st.signer.verify(_bearer(authorization))
    except TokenError as exc:
        raise ApiProblem(401, "AUTH_INVALID", f"{exc.reason}; log in again") from None
    if claims.kind != kind:
        raise ApiProblem(403, "AUTH_WRONG_KIND", f"this route needs a {kind} token, not a {claims.kind} token")
    return claims


AuthHeader = Annotated[str | None, Header(include_in_schema=False)]


# The header is read here, not declared as a parameter: FastAPI checks and converts a declared header
# on every request, which cost launch day's hottest routes more than verifying the token itself.
# (The header is left out of the OpenAPI schema either way; TOKEN lists its answers.)
async def citizen(request: Request) -> str:
    """The logged-in mobile number."""
    return _claims(request, request.headers.get("authorization"), "citizen").subject


async def staff(request: Request, authorization: AuthHeader = None) -> tuple[int, str]:
    """``(center_id, staff_id)`` of the logged-in vaccinator."""
    center, _, staff_id = _claims(request, authorization, "staff").subject.partition(":")
    return int(center), staff_id


async def admin(request: Request, authorization: AuthHeader = None) -> None:
    token = _bearer(authorization)
    expected = request.app.state.server.config.admin_token
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiProblem(403, "AUTH_FORBIDDEN", "wrong admin token")


Citizen = Annotated[str, Depends(citizen)]
Staff = Annotated[tuple[int, str], Depends(staff)]
Admin = Annotated[None, Depends(admin)]
