"""Admin routes (faults, integrity checks) and operations routes (health, ready, metrics).

Neither kind is ever shed nor faulted: a drill must be able to clear a fault during an outage.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Path
from fastapi.responses import Response

from regserver import schemas as s
from regserver.accounts import hash_credential, put_accounts
from regserver.db import centers, sessions, vaccinations
from regserver.errors import ADMIN, ApiProblem, answers
from regserver.faults import ActiveFault
from regserver.keys import rotate
from regserver.metrics import render
from regserver.responses import json_response
from regserver.state import Admin, State
from vaxdrill.core.scenario.loadplan import Fault

router = APIRouter(prefix="/api/v2/admin")
ops = APIRouter()


def _fault_json(item: ActiveFault, now: float) -> dict[str, object]:
    return {
        "fault_id": item.fault_id,
        "kind": item.fault.kind,
        "active": item.live(now),
        "starts_at": item.starts_at,
        "ends_at": item.ends_at,
        "routes": item.fault.routes,
        "mode": item.fault.mode,
        "spec": item.fault.model_dump(mode="json"),
    }


@router.post(
    "/faults", status_code=201, response_model=s.FaultCreated, responses=answers(ADMIN, s422=("NETWORK_FAULT",))
)
async def add_fault(fault: Fault, _: Admin, st: State) -> Response:
    if fault.kind == "network":
        raise ApiProblem(422, "NETWORK_FAULT", "a network fault is applied by a proxy in front of the server, not here")
    item = await st.plan.add(fault)
    return json_response({"fault_id": item.fault_id, "starts_at": item.starts_at, "ends_at": item.ends_at}, 201)


@router.get("/faults", response_model=s.FaultList, responses=answers(ADMIN))
async def list_faults(_: Admin, st: State) -> Response:
    now = time.time()
    return json_response({"faults": [_fault_json(f, now) for f in await st.plan.all()]})


@router.delete(
    "/faults/{fault_id}",
    status_code=204,
    response_class=Response,
    responses=answers(ADMIN, s404=("FAULT_NOT_FOUND",)),
)
async def clear_fault(fault_id: str, _: Admin, st: State) -> Response:
    if await st.plan.clear(fault_id) == 0:
        raise ApiProblem(404, "FAULT_NOT_FOUND", f"no fault {fault_id} (or already cleared)")
    return Response(status_code=204)


@router.delete("/faults", status_code=204, response_class=Response, responses=answers(ADMIN))
async def clear_faults(_: Admin, st: State) -> Response:
    await st.plan.clear()
    return Response(status_code=204)


@router.get("/vaccinations", response_model=s.AdminVaccinations, responses=answers(ADMIN))
async def all_vaccinations(_: Admin, st: State) -> Response:
    async with st.db.read() as conn:
        rows = (await conn.execute(sa.select(vaccinations).order_by(vaccinations.c.recorded_at))).all()
    keys = ("vaccination_id", "beneficiary_reference_id", "session_id", "dose", "source", "client_record_id")
    out = [{**{k: getattr(r, k) for k in keys}, "idempotency_key": _key(r.idempotency_key)} for r in rows]
    return json_response({"vaccinations": out})


def _key(scope_key: str | None) -> str | None:
    """The client's own key (stored as ``center:staff:key``)."""
    return scope_key.split(":", 2)[2] if scope_key and scope_key.count(":") >= 2 else scope_key


@router.get("/sessions", response_model=s.AdminSessions, responses=answers(ADMIN))
async def all_sessions(_: Admin, st: State) -> Response:
    async with st.db.read() as conn:
        rows = (await conn.execute(sa.select(sessions).order_by(sessions.c.session_id))).all()
    out = [
        {
            "session_id": r.session_id,
            "capacity": r.capacity_dose1 + r.capacity_dose2,
            "booked": r.booked_dose1 + r.booked_dose2,
        }
        for r in rows
    ]
    return json_response({"sessions": out})


@router.put(
    "/staff/{center_id}/{staff_id}",
    status_code=204,
    response_class=Response,
    responses=answers(ADMIN, s404=("CENTER_NOT_FOUND",)),
)
async def put_staff_account(
    center_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    staff_id: Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")],
    body: s.StaffCredential,
    _: Admin,
    st: State,
) -> Response:
    """Create a staff account at one centre, or give it a new credential (stored as a scrypt hash)."""
    async with st.db.read() as conn:
        known = (await conn.execute(sa.select(centers.c.center_id).where(centers.c.center_id == center_id))).first()
    if known is None:
        raise ApiProblem(404, "CENTER_NOT_FOUND", f"no centre {center_id}")
    stored = await asyncio.to_thread(hash_credential, body.credential)
    await put_accounts(st.db, [(center_id, staff_id, stored)])
    return Response(status_code=204)


@router.post("/keys/rotate", response_model=s.KeyGeneration, responses=answers(ADMIN))
async def rotate_keys(_: Admin, st: State) -> Response:
    """Sign tokens with a new key from now on: every citizen and staff token issued before is refused
    (at once on this worker, within half a second on the others)."""
    st.keys = await rotate(st.db)
    return json_response({"generation": st.keys.generation})


@ops.get("/health", response_model=s.Health, responses=answers())
async def health() -> Response:
    return json_response({"status": "ok"})


@ops.get("/ready", response_model=s.Health, responses=answers(s503=("DB_UNREACHABLE",)))
async def ready(st: State) -> Response:
    try:
        await st.db.ping()
    except Exception:
        raise ApiProblem(503, "DB_UNREACHABLE", "database unreachable", {"Retry-After": "1"}) from None
    return json_response({"status": "ready"})


@ops.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}, **answers()},
)
async def metrics(st: State) -> Response:
    body, content_type = render(st.plan.live())
    return Response(body, media_type=content_type)
