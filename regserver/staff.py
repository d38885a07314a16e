"""Site staff: log in, the day's due list, verify an arrival. Recording doses: :mod:`regserver.doses`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from regserver import schemas as s
from regserver.accounts import check_login
from regserver.db import appointments, beneficiaries, sessions, vaccinations
from regserver.errors import TOKEN, ApiProblem, answers
from regserver.limits import check_address, check_staff_account
from regserver.responses import json_response
from regserver.state import Staff, State

router = APIRouter(prefix="/api/v2/staff")


def slot_start(slot: str) -> int:
    """Minutes after midnight at which ``"01:30PM-02:30PM"`` starts."""
    start = dt.datetime.strptime(slot.split("-")[0], "%I:%M%p")
    return start.hour * 60 + start.minute


@router.post(
    "/login",
    response_model=s.TokenAnswer,
    responses=answers(s401=("STAFF_SECRET",), s429=("AUTH_RATE_LIMIT",)),
)
async def login(body: s.StaffLogin, st: State, request: Request) -> Response:
    # Counted before the credential is checked, so a guesser learns nothing once over the limit.
    await check_address(st, request)
    await check_staff_account(st, body.center_id, body.staff_id)
    if not await check_login(st.db, body.center_id, body.staff_id, body.secret):
        # One answer for an unknown centre, an unknown account and a wrong credential.
        raise ApiProblem(401, "STAFF_SECRET", "unknown staff account or wrong credential")
    ttl = st.config.staff_token_ttl
    token = st.signer.issue("staff", f"{body.center_id}:{body.staff_id}", ttl)
    return json_response({"token": token, "expires_in": int(ttl)})


async def _own_session(conn: AsyncConnection, session_id: str, center_id: int) -> Any:
    row = (await conn.execute(sa.select(sessions).where(sessions.c.session_id == session_id))).first()
    if row is None:
        raise ApiProblem(404, "SESSION_NOT_FOUND", f"no session {session_id}")
    if row.center_id != center_id:
        raise ApiProblem(403, "OTHER_CENTER", f"session {session_id} belongs to another centre")
    return row


@router.get(
    "/sessions/{session_id}/due",
    response_model=s.DueList,
    responses=answers(TOKEN, s403=("OTHER_CENTER",), s404=("SESSION_NOT_FOUND",)),
)
async def due(session_id: str, who: Staff, st: State) -> Response:
    async with st.db.read() as conn:
        await _own_session(conn, session_id, who[0])
        given = (
            sa.select(vaccinations.c.vaccination_id)
            .where(
                vaccinations.c.beneficiary_reference_id == appointments.c.beneficiary_reference_id,
                vaccinations.c.dose == appointments.c.dose,
            )
            .exists()
        )
        rows = (
            await conn.execute(
                sa.select(appointments, beneficiaries.c.name, beneficiaries.c.birth_year, given.label("vaccinated"))
                .join(
                    beneficiaries, beneficiaries.c.beneficiary_reference_id == appointments.c.beneficiary_reference_id
                )
                .where(appointments.c.session_id == session_id, appointments.c.status.in_(("booked", "completed")))
                .order_by(appointments.c.created_at, appointments.c.beneficiary_reference_id)
            )
        ).all()
    out = [
        {
            "beneficiary_reference_id": r.beneficiary_reference_id,
            "name": r.name,
            "birth_year": r.birth_year,
            "appointment_id": r.appointment_id,
            "slot": r.slot,
            "dose": r.dose,
            "vaccinated": bool(r.vaccinated),
        }
        for r in rows
    ]
    out.sort(key=lambda d: slot_start(str(d["slot"])))  # in the order of the day, not of the text
    return json_response({"beneficiaries": out})


@router.post(
    "/verify",
    response_model=s.Verified,
    responses=answers(
        TOKEN,
        s403=("OTHER_CENTER",),
        s404=("SESSION_NOT_FOUND", "BENEFICIARY_NOT_FOUND", "NO_APPOINTMENT"),
        s409=("ALREADY_VACCINATED",),
    ),
)
async def verify(body: s.Verify, who: Staff, st: State) -> Response:
    async with st.db.read() as conn:
        await _own_session(conn, body.session_id, who[0])
        person = (
            await conn.execute(
                sa.select(beneficiaries).where(
                    beneficiaries.c.beneficiary_reference_id == body.beneficiary_reference_id
                )
            )
        ).first()
        if person is None:
            raise ApiProblem(404, "BENEFICIARY_NOT_FOUND", f"no beneficiary {body.beneficiary_reference_id}")
        booking = (
            await conn.execute(
                sa.select(appointments).where(
                    appointments.c.beneficiary_reference_id == body.beneficiary_reference_id,
                    appointments.c.session_id == body.session_id,
                    appointments.c.status.in_(("booked", "completed")),
                )
            )
        ).first()
        if booking is None:
            raise ApiProblem(404, "NO_APPOINTMENT", "this beneficiary has no appointment at this session")
        done = (
            await conn.execute(
                sa.select(vaccinations.c.vaccination_id, sessions.c.center_id)
                .join(sessions, sessions.c.session_id == vaccinations.c.session_id)
                .where(
                    vaccinations.c.beneficiary_reference_id == body.beneficiary_reference_id,
                    vaccinations.c.dose == booking.dose,
                )
            )
        ).first()
    if done is not None:
        # Another centre's record is never described (its id would let this centre look it up).
        where = f"vaccination {done.vaccination_id}" if done.center_id == who[0] else "at another centre"
        raise ApiProblem(409, "ALREADY_VACCINATED", f"dose {booking.dose} already recorded ({where})")
    return json_response(
        {
            "verified": True,
            "name": person.name,
            "birth_year": person.birth_year,
            "appointment_id": booking.appointment_id,
            "dose": booking.dose,
        }
    )
