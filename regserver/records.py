"""What a dose record may say: only what could have happened at this session.

A record (online or from paper) is stored only if

- its vaccine is the session's vaccine;
- ``administered_at`` is on the session's day (in the server's time zone, as ``administered_date``)
  and not in the future. Dates far from any session (year 1, year 9999) are refused before any time
  zone arithmetic, which would overflow;
- dose 2 follows a recorded dose 1 of the same vaccine, given earlier;
- the beneficiary holds a booked appointment for this session and dose, which is marked ``completed``
  in the same transaction; or the record says ``walk_in``, which is stored with an audit row naming
  the staff member.

Each refusal is an :class:`~regserver.errors.ApiProblem`: the online route answers it, batch sync turns
it into that record's ``rejected`` result. The checks read and write through the caller's connection,
so they commit or roll back with the dose itself.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regserver import schemas as s
from regserver.db import Database, appointments, centers, record_audit, sessions, vaccinations
from regserver.errors import ApiProblem

FUTURE_SLACK = 300.0  # seconds a vaccinator's clock may run ahead of the server's


def aware(at: dt.datetime) -> dt.datetime:
    """``at`` with a time zone (UTC when the client gave none)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def check_time(at: dt.datetime, day: dt.date, now: float | None = None) -> None:
    """Refuse a time in the future or off the session's ``day``; never overflows."""
    at = aware(at)
    if abs(at.year - day.year) > 1:  # before any conversion: year 1 at +05:00 has no UTC equivalent
        if at.year > dt.date.today().year:
            raise ApiProblem(422, "ADMINISTERED_IN_FUTURE", "administered_at: is in the future")
        raise ApiProblem(
            422, "ADMINISTERED_OUTSIDE_SESSION", f"administered_at: not on the session's day {day:%d-%m-%Y}"
        )
    if at.timestamp() > (time.time() if now is None else now) + FUTURE_SLACK:
        raise ApiProblem(422, "ADMINISTERED_IN_FUTURE", "administered_at: is in the future")
    if at.astimezone().date() != day:
        raise ApiProblem(
            422, "ADMINISTERED_OUTSIDE_SESSION", f"administered_at: not on the session's day {day:%d-%m-%Y}"
        )


async def session_for_record(conn: AsyncConnection, session_id: str) -> Any:
    """The session's centre, day, vaccine and district, or None."""
    query = (
        sa.select(sessions.c.session_id, sessions.c.center_id, sessions.c.date, sessions.c.vaccine)
        .add_columns(centers.c.district_id)
        .join(centers, centers.c.center_id == sessions.c.center_id)
        .where(sessions.c.session_id == session_id)
    )
    return (await conn.execute(query)).first()


async def check_record(conn: AsyncConnection, record: s.DoseRecord, session: Any) -> None:
    """The checks that need no appointment: vaccine, time, dose order (see the module docstring)."""
    if record.vaccine != session.vaccine:
        raise ApiProblem(422, "WRONG_VACCINE", f"vaccine: this session gives {session.vaccine}, not {record.vaccine}")
    check_time(record.administered_at, session.date)
    if record.dose == 2:
        first = (
            await conn.execute(
                sa.select(vaccinations.c.vaccine, vaccinations.c.administered_at).where(
                    vaccinations.c.beneficiary_reference_id == record.beneficiary_reference_id,
                    vaccinations.c.dose == 1,
                )
            )
        ).first()
        if first is None:
            raise ApiProblem(422, "DOSE_ORDER", "dose: dose 2 needs a recorded dose 1")
        if first.vaccine != record.vaccine:
            raise ApiProblem(422, "DOSE_ORDER", f"vaccine: dose 1 was {first.vaccine}; dose 2 must be the same")
        if dt.datetime.fromisoformat(first.administered_at) >= aware(record.administered_at):
            raise ApiProblem(422, "DOSE_ORDER", "administered_at: dose 2 must come after dose 1")


async def complete_appointment(conn: AsyncConnection, record: s.DoseRecord) -> bool:
    """Mark the booked appointment for this session and dose completed; False if there is none.

    On PostgreSQL the UPDATE locks the row: a concurrent cancel or reschedule waits, then finds it
    completed (and gives no seat back)."""
    done = await conn.execute(
        appointments.update()
        .where(
            appointments.c.beneficiary_reference_id == record.beneficiary_reference_id,
            appointments.c.session_id == record.session_id,
            appointments.c.dose == record.dose,
            appointments.c.status == "booked",
        )
        .values(status="completed")
    )
    return bool(done.rowcount)


async def reopen_appointment(conn: AsyncConnection, record: Any) -> None:
    """Undo :func:`complete_appointment` (a dose not stored after all, or voided)."""
    await conn.execute(
        appointments.update()
        .where(
            appointments.c.beneficiary_reference_id == record.beneficiary_reference_id,
            appointments.c.session_id == record.session_id,
            appointments.c.dose == record.dose,
            appointments.c.status == "completed",
        )
        .values(status="booked")
    )


def public(v: dict[str, Any] | Any) -> dict[str, Any]:
    """A stored dose as the API shows it."""
    get = v.get if isinstance(v, dict) else lambda k: getattr(v, k)
    keys = ("vaccination_id", "beneficiary_reference_id", "session_id", "vaccine", "batch", "dose", "administered_at")
    return {**{k: get(k) for k in keys}, "source": get("source")}


def values(record: s.DoseRecord, session: Any, staff: str, source: str) -> dict[str, Any]:
    """The row of a new dose (the checks above passed)."""
    at = aware(record.administered_at)
    return {
        "vaccination_id": str(uuid.uuid4()),
        "beneficiary_reference_id": record.beneficiary_reference_id,
        "session_id": record.session_id,
        "district_id": session.district_id,
        "vaccine": record.vaccine,
        "batch": record.batch,
        "dose": record.dose,
        "administered_at": at.isoformat(),
        "administered_date": at.astimezone().date(),
        "source": source,
        "staff": staff,
        "recorded_at": time.time(),
    }


async def store(conn: AsyncConnection, db: Database, record: s.DoseRecord, session: Any, row: dict[str, Any]) -> bool:
    """Complete the appointment (or audit the walk-in) and insert ``row``; False if the dose was already
    stored (a unique key), with nothing changed. Refuses a record with no appointment and no walk-in."""
    completed = await complete_appointment(conn, record)
    if not completed and not record.walk_in:
        raise ApiProblem(
            404, "NO_APPOINTMENT", f"no booked appointment for dose {record.dose} at this session (walk_in not set)"
        )
    inserted = (
        await conn.execute(db.insert_ignore(vaccinations).values(row).returning(vaccinations.c.vaccination_id))
    ).first()
    if inserted is None:
        if completed:
            await reopen_appointment(conn, record)
        return False
    if record.walk_in and not completed:
        await audit(conn, row["vaccination_id"], "walk_in", row["staff"], "recorded without an appointment", None, row)
    return True


async def audit(
    conn: AsyncConnection,
    vaccination_id: str,
    action: str,
    actor: str,
    reason: str,
    before: dict[str, Any] | Any | None,
    after: dict[str, Any] | Any | None,
) -> None:
    """One row of the record's audit trail."""
    await conn.execute(
        record_audit.insert().values(
            vaccination_id=vaccination_id,
            action=action,
            actor=actor,
            at=time.time(),
            reason=reason,
            before=None if before is None else json.dumps(public(before)),
            after=None if after is None else json.dumps(public(after)),
        )
    )
