"""Admin corrections of stored doses, each with an audit trail: who, when, why, before and after.

A record is never edited in place without a trace: ``correct`` changes a dose's vaccine, batch or
time (the result must still be one that could have happened at its session), ``void`` removes a
dose that did not happen and reopens its completed appointment, so the real vaccinator can record
it. Walk-ins (doses recorded without an appointment) leave an audit row too. The admin token is
shared, so ``operator`` names the person acting; it is stored with the reason.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from regserver import schemas as s
from regserver.db import record_audit, vaccinations
from regserver.errors import ADMIN, ApiProblem, answers
from regserver.records import audit as write_audit
from regserver.records import aware, check_time, public, reopen_appointment, session_for_record
from regserver.responses import json_response
from regserver.state import Admin, State

router = APIRouter(prefix="/api/v2/admin/vaccinations")


async def _locked(conn: AsyncConnection, vaccination_id: str) -> Any:
    query = sa.select(vaccinations).where(vaccinations.c.vaccination_id == vaccination_id).with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise ApiProblem(404, "VACCINATION_NOT_FOUND", f"no vaccination {vaccination_id}")
    return row


@router.post(
    "/{vaccination_id}/correct",
    response_model=s.Vaccination,
    responses=answers(
        ADMIN,
        s404=("VACCINATION_NOT_FOUND",),
        s422=("NOTHING_TO_CORRECT", "WRONG_VACCINE", "ADMINISTERED_IN_FUTURE", "ADMINISTERED_OUTSIDE_SESSION"),
    ),
)
async def correct(vaccination_id: str, body: s.Correction, _: Admin, st: State) -> Response:
    changes: dict[str, Any] = {}
    async with st.db.write() as conn:
        before = await _locked(conn, vaccination_id)
        session = await session_for_record(conn, before.session_id)
        if body.vaccine is not None and body.vaccine != before.vaccine:
            if session is not None and body.vaccine != session.vaccine:
                raise ApiProblem(
                    422, "WRONG_VACCINE", f"vaccine: the session gives {session.vaccine}, not {body.vaccine}"
                )
            changes["vaccine"] = body.vaccine
        if body.batch is not None and body.batch != before.batch:
            changes["batch"] = body.batch
        if body.administered_at is not None:
            at = aware(body.administered_at)
            if session is not None:
                check_time(at, session.date)
            if at.isoformat() != before.administered_at:
                changes.update(administered_at=at.isoformat(), administered_date=at.astimezone().date())
        if not changes:
            raise ApiProblem(422, "NOTHING_TO_CORRECT", "the correction changes no field of the record")
        await conn.execute(
            vaccinations.update().where(vaccinations.c.vaccination_id == vaccination_id).values(**changes)
        )
        query = sa.select(vaccinations).where(vaccinations.c.vaccination_id == vaccination_id)
        after = (await conn.execute(query)).one()
        await write_audit(conn, vaccination_id, "correct", body.operator, body.reason, before, after)
    return json_response(public(after))


@router.post(
    "/{vaccination_id}/void",
    status_code=204,
    response_class=Response,
    responses=answers(ADMIN, s404=("VACCINATION_NOT_FOUND",), s409=("DOSE_ORDER",)),
)
async def void(vaccination_id: str, body: s.Void, _: Admin, st: State) -> Response:
    async with st.db.write() as conn:
        before = await _locked(conn, vaccination_id)
        if before.dose == 1:
            later = sa.select(vaccinations.c.vaccination_id).where(
                vaccinations.c.beneficiary_reference_id == before.beneficiary_reference_id, vaccinations.c.dose == 2
            )
            if (await conn.execute(later)).first() is not None:
                raise ApiProblem(409, "DOSE_ORDER", "dose 2 is recorded for this beneficiary: void dose 2 first")
        await conn.execute(vaccinations.delete().where(vaccinations.c.vaccination_id == vaccination_id))
        await reopen_appointment(conn, before)
        await write_audit(conn, vaccination_id, "void", body.operator, body.reason, before, None)
    return Response(status_code=204)


@router.get(
    "/{vaccination_id}/audit",
    response_model=s.AuditTrail,
    responses=answers(ADMIN, s404=("VACCINATION_NOT_FOUND",)),
)
async def audit_trail(vaccination_id: str, _: Admin, st: State) -> Response:
    async with st.db.read() as conn:
        rows = (
            await conn.execute(
                sa.select(record_audit)
                .where(record_audit.c.vaccination_id == vaccination_id)
                .order_by(record_audit.c.audit_id)
            )
        ).all()
        if not rows:
            exists = sa.select(vaccinations.c.vaccination_id).where(vaccinations.c.vaccination_id == vaccination_id)
            if (await conn.execute(exists)).first() is None:
                raise ApiProblem(404, "VACCINATION_NOT_FOUND", f"no vaccination {vaccination_id}")
    entries = [
        {
            "action": r.action,
            "actor": r.actor,
            "at": r.at,
            "reason": r.reason,
            "before": None if r.before is None else json.loads(r.before),
            "after": None if r.after is None else json.loads(r.after),
        }
        for r in rows
    ]
    return json_response({"vaccination_id": vaccination_id, "entries": entries})
