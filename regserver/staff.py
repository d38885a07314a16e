"""Site staff: log in, the day's due list, verify an arrival, record a dose, sync paper records.

Recording a dose follows the IETF draft "The Idempotency-Key HTTP Header Field": the key is claimed
in its own committed transaction (so a concurrent duplicate sees it and gets 409), the dose and the
stored answer are then written in one transaction, and a retry replays that answer byte for byte.

A sync batch is applied in one transaction: every record gets its answer, and either all created
records are stored or (if the transaction fails) none is, never half a batch. Each record is inserted
with ``ON CONFLICT DO NOTHING`` against two unique keys (client_record_id; beneficiary + dose), so
redeliveries, reordering and concurrent batches store each record exactly once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from regserver import schemas as s
from regserver.accounts import check_login
from regserver.db import Database, appointments, beneficiaries, centers, idempotency, sessions, vaccinations
from regserver.errors import TOKEN, ApiProblem, answers, describe_validation
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
                .where(appointments.c.session_id == session_id, appointments.c.status == "booked")
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
                    appointments.c.status == "booked",
                )
            )
        ).first()
        if booking is None:
            raise ApiProblem(404, "NO_APPOINTMENT", "this beneficiary has no appointment at this session")
        done = (
            await conn.execute(
                sa.select(vaccinations.c.vaccination_id).where(
                    vaccinations.c.beneficiary_reference_id == body.beneficiary_reference_id,
                    vaccinations.c.dose == booking.dose,
                )
            )
        ).first()
    if done is not None:
        raise ApiProblem(409, "ALREADY_VACCINATED", f"dose {booking.dose} already recorded ({done.vaccination_id})")
    return json_response(
        {
            "verified": True,
            "name": person.name,
            "birth_year": person.birth_year,
            "appointment_id": booking.appointment_id,
            "dose": booking.dose,
        }
    )


def _values(record: s.DoseRecord, session: Any, who: tuple[int, str], source: str) -> dict[str, Any]:
    at = record.administered_at
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
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
        "staff": f"{who[0]}:{who[1]}",
        "recorded_at": time.time(),
    }


def _public(v: dict[str, Any] | Any) -> dict[str, Any]:
    get = v.get if isinstance(v, dict) else lambda k: getattr(v, k)
    keys = ("vaccination_id", "beneficiary_reference_id", "session_id", "vaccine", "batch", "dose", "administered_at")
    return {**{k: get(k) for k in keys}, "source": get("source")}


async def _registered(conn: AsyncConnection, beneficiary_reference_id: str) -> bool:
    """Whether a beneficiary with this reference id exists."""
    query = sa.select(beneficiaries.c.beneficiary_reference_id).where(
        beneficiaries.c.beneficiary_reference_id == beneficiary_reference_id
    )
    return (await conn.execute(query)).first() is not None


async def _session_for_record(conn: AsyncConnection, session_id: str) -> Any:
    return (
        await conn.execute(
            sa.select(sessions.c.session_id, sessions.c.center_id, sessions.c.date, centers.c.district_id)
            .join(centers, centers.c.center_id == sessions.c.center_id)
            .where(sessions.c.session_id == session_id)
        )
    ).first()


def _check_time(record: s.DoseRecord) -> str | None:
    at = record.administered_at if record.administered_at.tzinfo else record.administered_at.replace(tzinfo=dt.UTC)
    if at.timestamp() > time.time() + 300:
        return "administered_at: is in the future"
    return None


async def _record_dose(db: Database, body: s.DoseRecord, who: tuple[int, str], key: str) -> tuple[int, dict[str, Any]]:
    """Store one online dose; answer (status, body). Runs inside the idempotency claim."""
    problem = _check_time(body)
    if problem:
        return 422, {"errorCode": "ADMINISTERED_IN_FUTURE", "error": problem}
    async with db.write() as conn:
        session = await _session_for_record(conn, body.session_id)
        if session is None:
            return 404, {"errorCode": "SESSION_NOT_FOUND", "error": f"no session {body.session_id}"}
        if session.center_id != who[0]:
            return 403, {"errorCode": "OTHER_CENTER", "error": "this session belongs to another centre"}
        if not await _registered(conn, body.beneficiary_reference_id):
            return 404, {
                "errorCode": "BENEFICIARY_NOT_FOUND",
                "error": f"no beneficiary {body.beneficiary_reference_id}",
            }
        values = {**_values(body, session, who, "online"), "idempotency_key": key}
        inserted = (
            await conn.execute(db.insert_ignore(vaccinations).values(values).returning(vaccinations.c.vaccination_id))
        ).first()
        if inserted is None:
            return 409, {"errorCode": "ALREADY_VACCINATED", "error": f"dose {body.dose} already recorded"}
        answer = _public(values)
        await conn.execute(
            idempotency.update()
            .where(idempotency.c.scope_key == key)
            .values(state="done", status_code=201, body=json.dumps(answer))
        )
    return 201, answer


@router.post(
    "/vaccinations",
    status_code=201,
    response_model=s.Vaccination,
    responses=answers(
        TOKEN,
        s400=("IDEMPOTENCY_KEY_MISSING",),
        s403=("OTHER_CENTER",),
        s404=("SESSION_NOT_FOUND", "BENEFICIARY_NOT_FOUND"),
        s409=("ALREADY_VACCINATED", "IDEMPOTENCY_IN_FLIGHT"),
        s422=("IDEMPOTENCY_KEY_REUSED", "ADMINISTERED_IN_FUTURE"),
    ),
)
async def record_vaccination(
    body: s.DoseRecord,
    who: Staff,
    st: State,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> Response:
    if not idempotency_key or not idempotency_key.strip():
        raise ApiProblem(400, "IDEMPOTENCY_KEY_MISSING", "this route needs an Idempotency-Key header (e.g. a UUID)")
    # Keys are per staff member: two vaccinators' keys never collide.
    scope = f"{who[0]}:{who[1]}:{idempotency_key.strip()}"
    fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    now = time.time()
    db = st.db
    async with db.write() as conn:
        claimed = (
            await conn.execute(
                db.insert_ignore(idempotency)
                .values(scope_key=scope, fingerprint=fingerprint, state="running", created_at=now)
                .returning(idempotency.c.scope_key)
            )
        ).first()
        if claimed is None:
            row = (await conn.execute(sa.select(idempotency).where(idempotency.c.scope_key == scope))).one()
            if row.fingerprint != fingerprint:
                raise ApiProblem(422, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different body")
            if row.state == "done":
                return Response(
                    row.body, row.status_code, media_type="application/json", headers={"Idempotent-Replayed": "true"}
                )
            lease_left = st.config.idempotency_lease - (now - row.created_at)
            if lease_left > 0:
                # Retry-After: the seconds left on the lease (whole seconds, at least 1), after which a
                # retry with the same key runs again if the first request died (a crash, a kill).
                raise ApiProblem(
                    409,
                    "IDEMPOTENCY_IN_FLIGHT",
                    "a request with this Idempotency-Key is being processed",
                    {"Retry-After": str(max(1, math.ceil(lease_left)))},
                )
            await conn.execute(idempotency.update().where(idempotency.c.scope_key == scope).values(created_at=now))
    try:
        status, answer = await _record_dose(db, body, who, scope)
    except BaseException:
        # Nothing was stored (the transaction rolled back): free the key so a retry can run.
        async with db.write() as conn:
            await conn.execute(
                idempotency.delete().where(idempotency.c.scope_key == scope, idempotency.c.state == "running")
            )
        raise
    if status != 201:
        # Refusals are stored too, so a retry gets the same answer (the draft's "replay the result").
        async with db.write() as conn:
            await conn.execute(
                idempotency.update()
                .where(idempotency.c.scope_key == scope)
                .values(state="done", status_code=status, body=json.dumps(answer))
            )
    return json_response(answer, status)


def _same(row: Any, record: s.DoseRecord) -> bool:
    at = record.administered_at if record.administered_at.tzinfo else record.administered_at.replace(tzinfo=dt.UTC)
    return bool(
        row.beneficiary_reference_id == record.beneficiary_reference_id
        and row.session_id == record.session_id
        and row.dose == record.dose
        and row.vaccine == record.vaccine
        and row.batch == record.batch
        and row.administered_at == at.isoformat()
    )


async def _sync_one(conn: AsyncConnection, db: Database, raw: dict[str, Any], who: tuple[int, str]) -> dict[str, Any]:
    raw_id = raw.get("client_record_id")
    shown = str(raw_id) if raw_id is not None else None
    try:
        client_id = str(uuid.UUID(str(raw_id)))
    except ValueError:
        return {"client_record_id": shown, "status": "rejected", "reason": "client_record_id: expected a UUID"}
    fields = {k: v for k, v in raw.items() if k != "client_record_id"}
    try:
        record = s.DoseRecord.model_validate(fields)
    except ValidationError as exc:
        return {"client_record_id": client_id, "status": "rejected", "reason": describe_validation(exc.errors())}
    problem = _check_time(record)
    if problem:
        return {"client_record_id": client_id, "status": "rejected", "reason": problem}
    session = await _session_for_record(conn, record.session_id)
    if session is None:
        return {
            "client_record_id": client_id,
            "status": "rejected",
            "reason": f"session_id: no session {record.session_id}",
        }
    if session.center_id != who[0]:
        return {"client_record_id": client_id, "status": "rejected", "reason": "session_id: belongs to another centre"}
    if not await _registered(conn, record.beneficiary_reference_id):
        return {
            "client_record_id": client_id,
            "status": "rejected",
            "reason": f"beneficiary_reference_id: no beneficiary {record.beneficiary_reference_id}",
        }
    values = {**_values(record, session, who, "sync"), "client_record_id": client_id}
    inserted = (
        await conn.execute(db.insert_ignore(vaccinations).values(values).returning(vaccinations.c.vaccination_id))
    ).first()
    if inserted is not None:
        return {"client_record_id": client_id, "status": "created", "vaccination_id": values["vaccination_id"]}
    same_id = (await conn.execute(sa.select(vaccinations).where(vaccinations.c.client_record_id == client_id))).first()
    if same_id is not None:
        if _same(same_id, record):
            return {"client_record_id": client_id, "status": "duplicate", "vaccination_id": same_id.vaccination_id}
        return {
            "client_record_id": client_id,
            "status": "conflict",
            "vaccination_id": same_id.vaccination_id,
            "reason": "client_record_id already used for a different record",
        }
    other = (
        await conn.execute(
            sa.select(vaccinations).where(
                vaccinations.c.beneficiary_reference_id == record.beneficiary_reference_id,
                vaccinations.c.dose == record.dose,
            )
        )
    ).first()
    reason = f"dose {record.dose} already recorded for this beneficiary"
    if other is not None:
        reason += f" ({other.source}, {other.administered_at}, vaccination {other.vaccination_id})"
    return {
        "client_record_id": client_id,
        "status": "conflict",
        "vaccination_id": other.vaccination_id if other is not None else None,
        "reason": reason,
    }


@router.post("/sync", response_model=s.SyncAnswer, responses=answers(TOKEN))
async def sync(body: s.SyncBatch, who: Staff, st: State) -> Response:
    async with st.db.write() as conn:
        results = [await _sync_one(conn, st.db, dict(raw), who) for raw in body.records]
    return json_response({"results": results})
