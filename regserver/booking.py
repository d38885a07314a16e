"""Booking: schedule, cancel, reschedule; the certificate; public counters.

Seats are taken and given back by :mod:`regserver.seats` (never overbooked); ``schedule`` requests
are applied together by :mod:`regserver.batcher`. A beneficiary holds at most one live appointment
per dose (a partial unique index).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from regserver import schemas as s
from regserver.batcher import born_by, people_of
from regserver.db import appointments, beneficiaries, centers, districts, sessions, vaccinations
from regserver.errors import TOKEN, ApiProblem, answers
from regserver.outcomes import Booked, Booking, Refusal, UnderAge, check_beneficiaries
from regserver.pdf import text_pdf
from regserver.responses import cached_json, fmt_date, json_response
from regserver.seats import give_back, take_seats
from regserver.security import mask_id
from regserver.state import Citizen, ServerState, State

router = APIRouter(prefix="/api/v2")
FULL = "APPOIN0040"
PHOTO_ID_TYPES = {1: "Aadhaar", 2: "Driving licence", 3: "PAN", 4: "Passport", 5: "Pension passbook", 6: "NPR card"}


async def _session(st: ServerState, conn: AsyncConnection, session_id: str) -> Any:
    """The session's fixed fields (centre, date, slots, age limit), cached per worker."""
    row = st.session_meta.get(session_id)
    if row is None:
        row = (await conn.execute(sa.select(sessions).where(sessions.c.session_id == session_id))).first()
        if row is None:
            raise ApiProblem(404, "SESSION_NOT_FOUND", f"no session {session_id}")
        if len(st.session_meta) > 100_000:
            st.session_meta.clear()
        st.session_meta[session_id] = row
    return row


def _check_slot(row: Any, slot: str) -> None:
    slots = json.loads(row.slots)
    if slot not in slots:
        raise ApiProblem(400, "APPOIN0045", f"slot {slot!r} is not one of this session's slots: {', '.join(slots)}")


# The state comes from the Request, not the ``State`` dependency: on launch day's busiest write, a second
# dependency to solve costs FastAPI more than the rest of the route's own Python.
@router.post(
    "/appointment/schedule",
    response_model=s.Confirmation,
    responses=answers(
        TOKEN,
        s400=("CENTER_MISMATCH", "APPOIN0045", "AGE_LIMIT"),
        s404=("SESSION_NOT_FOUND", "BENEFICIARY_NOT_FOUND"),
        s409=(FULL, "APPOIN0041"),
    ),
)
async def schedule(body: s.Schedule, mobile: Citizen, request: Request) -> Response:
    appointment_id = await book(request.app.state.server, body, mobile)
    return json_response({"appointment_confirmation_no": appointment_id})


async def book(st: ServerState, body: s.Schedule, mobile: str) -> str:
    """Book ``body`` for ``mobile``: the appointment's id, or :class:`ApiProblem` (also regserver/fastbook.py)."""
    wanted = list(dict.fromkeys(body.beneficiaries))
    session = await _session_fact(st, body.session_id)
    if body.center_id is not None and body.center_id != session.center_id:
        raise ApiProblem(400, "CENTER_MISMATCH", f"session {body.session_id} is not at centre {body.center_id}")
    _check_slot(session, body.slot)
    # Ownership and age are checked inside the batch's transaction: one query for all waiting bookings.
    booking = Booking(body.session_id, body.dose, body.slot, tuple(wanted), mobile, born_by(session))
    outcome = await st.batcher.book(booking)
    if not isinstance(outcome, Booked):
        raise refusal_problem(outcome, body.dose, session.min_age_limit)
    return outcome.appointment_id


def refusal_problem(outcome: UnderAge | Refusal, dose: int, min_age_limit: int) -> ApiProblem:
    """The answer to a booking that took no seat (docs/api-contract.md)."""
    match outcome:
        case UnderAge(beneficiary):
            return ApiProblem(400, "AGE_LIMIT", f"beneficiary {beneficiary} is under {min_age_limit}")
        case Refusal.FULL:
            return ApiProblem(409, FULL, "this session is fully booked")
        case Refusal.ALREADY_BOOKED:
            return ApiProblem(409, "APPOIN0041", f"a beneficiary already has an appointment for dose {dose}")
        case Refusal.NOT_REGISTERED:
            return ApiProblem(404, "BENEFICIARY_NOT_FOUND", "a beneficiary is not registered with this mobile number")


async def _session_fact(st: ServerState, session_id: str) -> Any:
    """The session's fixed fields, from this worker's memory or (once) from the database."""
    row = st.session_meta.get(session_id)
    if row is not None:
        return row
    async with st.db.read() as conn:
        return await _session(st, conn, session_id)


async def _live(conn: AsyncConnection, appointment_id: str, mobile: str, only: list[str] | None = None) -> list[Any]:
    query = (
        sa.select(appointments)
        .join(beneficiaries, beneficiaries.c.beneficiary_reference_id == appointments.c.beneficiary_reference_id)
        .where(
            appointments.c.appointment_id == appointment_id,
            appointments.c.status == "booked",
            beneficiaries.c.mobile == mobile,
        )
    )
    if only is not None:
        query = query.where(appointments.c.beneficiary_reference_id.in_(only))
    # On PostgreSQL, lock the rows: a concurrent cancel or reschedule of the same appointment waits, then
    # no longer sees them as booked, so seats are never given back twice. (SQLite writers are serialised.)
    return list((await conn.execute(query.with_for_update(of=appointments))).all())


async def _refuse_completed(
    conn: AsyncConnection, appointment_id: str, mobile: str, only: list[str] | None = None
) -> None:
    """409 if a dose was recorded against this appointment (for these beneficiaries): it is served, and
    its seat was used, so it can be neither cancelled nor moved."""
    query = (
        sa.select(appointments.c.beneficiary_reference_id)
        .join(beneficiaries, beneficiaries.c.beneficiary_reference_id == appointments.c.beneficiary_reference_id)
        .where(
            appointments.c.appointment_id == appointment_id,
            appointments.c.status == "completed",
            beneficiaries.c.mobile == mobile,
        )
    )
    if only is not None:
        query = query.where(appointments.c.beneficiary_reference_id.in_(only))
    if (await conn.execute(query)).first() is not None:
        raise ApiProblem(409, "APPOINTMENT_COMPLETED", "a dose was recorded for this appointment; it cannot be changed")


@router.post(
    "/appointment/cancel",
    status_code=204,
    response_class=Response,
    responses=answers(TOKEN, s404=("APPOINTMENT_NOT_FOUND",), s409=("APPOINTMENT_COMPLETED",)),
)
async def cancel(body: s.Cancel, mobile: Citizen, st: State) -> Response:
    async with st.db.write() as conn:
        rows = await _live(conn, body.appointment_id, mobile, list(body.beneficiariesToCancel))
        await _refuse_completed(conn, body.appointment_id, mobile, list(body.beneficiariesToCancel))
        if not rows:
            raise ApiProblem(404, "APPOINTMENT_NOT_FOUND", "no live appointment with this id for these beneficiaries")
        done = await conn.execute(
            appointments.update()
            .where(
                appointments.c.appointment_id == body.appointment_id,
                appointments.c.beneficiary_reference_id.in_([r.beneficiary_reference_id for r in rows]),
                appointments.c.status == "booked",
            )
            .values(status="cancelled")
        )
        await give_back(conn, rows[0].session_id, rows[0].dose, done.rowcount)
    return Response(status_code=204)


@router.post(
    "/appointment/reschedule",
    status_code=204,
    response_class=Response,
    responses=answers(
        TOKEN,
        s400=("APPOIN0045", "AGE_LIMIT"),
        s404=("SESSION_NOT_FOUND", "APPOINTMENT_NOT_FOUND", "BENEFICIARY_NOT_FOUND"),
        s409=(FULL, "APPOINTMENT_COMPLETED"),
    ),
)
async def reschedule(body: s.Reschedule, mobile: Citizen, st: State) -> Response:
    target = await _session_fact(st, body.session_id)
    _check_slot(target, body.slot)
    async with st.db.write() as conn:
        rows = await _live(conn, body.appointment_id, mobile)
        await _refuse_completed(conn, body.appointment_id, mobile)
        if not rows:
            raise ApiProblem(404, "APPOINTMENT_NOT_FOUND", "no live appointment with this id")
        old, dose = rows[0].session_id, rows[0].dose
        # The checks schedule makes (ownership, the new session's age limit), by the same code.
        refs = tuple(r.beneficiary_reference_id for r in rows)
        moved = Booking(body.session_id, dose, body.slot, refs, mobile, born_by(target))
        refused = check_beneficiaries(moved, await people_of(conn, list(refs)))
        if refused is not None:
            raise refusal_problem(refused, dose, target.min_age_limit)
        if old != body.session_id:
            if not await take_seats(conn, body.session_id, dose, len(rows)):
                raise ApiProblem(409, FULL, "the new session is fully booked")
            await give_back(conn, old, dose, len(rows))
        await conn.execute(
            appointments.update()
            .where(appointments.c.appointment_id == body.appointment_id, appointments.c.status == "booked")
            .values(session_id=body.session_id, slot=body.slot)
        )
    return Response(status_code=204)


@router.get(
    "/registration/certificate/public/download",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "the certificate as a PDF"},
        **answers(TOKEN, s404=("BENEFICIARY_NOT_FOUND", "NOT_VACCINATED")),
    },
)
async def certificate(
    beneficiary_reference_id: Annotated[str, Query(pattern=r"^[0-9]{14}$")], mobile: Citizen, st: State
) -> Response:
    async with st.db.read() as conn:
        person = (
            await conn.execute(
                sa.select(beneficiaries).where(
                    beneficiaries.c.beneficiary_reference_id == beneficiary_reference_id,
                    beneficiaries.c.mobile == mobile,
                )
            )
        ).first()
        if person is None:
            raise ApiProblem(404, "BENEFICIARY_NOT_FOUND", "no such beneficiary for this mobile number")
        doses = (
            await conn.execute(
                sa.select(vaccinations, centers.c.name)
                .join(sessions, sessions.c.session_id == vaccinations.c.session_id)
                .join(centers, centers.c.center_id == sessions.c.center_id)
                .where(vaccinations.c.beneficiary_reference_id == beneficiary_reference_id)
                .order_by(vaccinations.c.dose)
            )
        ).all()
    if not doses:
        raise ApiProblem(404, "NOT_VACCINATED", "no dose recorded for this beneficiary yet")
    lines = [
        "Certificate for COVID-19 Vaccination (drill)",
        f"Beneficiary: {person.name}",
        f"Birth year: {person.birth_year}",
        f"Reference ID: {person.beneficiary_reference_id}",
        f"Photo ID: {PHOTO_ID_TYPES.get(person.photo_id_type, 'ID')} {mask_id('0000' + person.photo_id_last4)}",
        "",
    ]
    for d in doses:
        lines.append(f"Dose {d.dose}: {d.vaccine}, batch {d.batch}, {d.administered_at}, at {d.name}")
    lines += ["", "Issued by vaxdrill's reference server for drills. Not a real certificate."]
    pdf = text_pdf(lines, title=f"Certificate {person.beneficiary_reference_id}")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="certificate-{beneficiary_reference_id}.pdf"'},
    )


@router.get("/public/counters", response_model=s.Counters, responses=answers(s404=("DISTRICT_NOT_FOUND",)))
async def counters(st: State, district_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> Response:
    today = dt.date.today()
    key = ("counters", district_id, today)
    now = time.time()
    hit = st.cache.get(key, now)
    if hit is not None:
        return cached_json(*hit)
    count = sa.func.count(vaccinations.c.vaccination_id)
    query = (
        sa.select(districts.c.district_id, districts.c.district_name, count)
        .select_from(
            districts.outerjoin(
                vaccinations,
                sa.and_(
                    vaccinations.c.district_id == districts.c.district_id, vaccinations.c.administered_date == today
                ),
            )
        )
        .group_by(districts.c.district_id, districts.c.district_name)
        .order_by(districts.c.district_id)
    )
    if district_id is not None:
        query = query.where(districts.c.district_id == district_id)
    async with st.db.read() as conn:
        rows = (await conn.execute(query)).all()
    if district_id is not None and not rows:
        raise ApiProblem(404, "DISTRICT_NOT_FOUND", f"no district {district_id}")
    data = {
        "date": fmt_date(today),
        "districts": [
            {"district_id": r.district_id, "district_name": r.district_name, "vaccinated_today": r[2]} for r in rows
        ],
    }
    body = json.dumps(data).encode()
    st.cache.put(key, body, now)
    return cached_json(body, int(st.cache.ttl))
