"""Site staff record doses: one online (with an Idempotency-Key), or a batch of paper records (sync).

Every record must be one that could have happened (:mod:`regserver.records`): a booked appointment
at this session (or an audited walk-in), the session's vaccine, the session's day, dose 2 after
dose 1. The appointment is marked completed in the dose's own transaction.

Recording a dose follows the IETF draft "The Idempotency-Key HTTP Header Field": the key is claimed
in its own committed transaction (so a concurrent duplicate sees it and gets 409). The claim's lease
is stamped once the request holds the write lock, and again when the dose's own transaction starts;
a claim that expired meanwhile and was taken over by a retry is no longer this run's, so this run
stores nothing. The dose and the stored answer are written in one transaction, and an answer is only
written over a claim still running: a stored answer is never replaced. A retry replays it byte for byte.

A sync batch is applied in chunks of ``sync_chunk`` records, one write transaction each, so a long
batch does not hold SQLite's only write lock for all of it. Every record gets its own answer
(created, duplicate, conflict or rejected); a refused record never fails the others. Each record is
inserted with ``ON CONFLICT DO NOTHING`` against two unique keys (client_record_id; beneficiary +
dose), so redeliveries, reordering, concurrent batches and a batch resent after a failed chunk store
each record exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Header
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from regserver import schemas as s
from regserver.db import Database, beneficiaries, idempotency, sessions, vaccinations
from regserver.errors import TOKEN, ApiProblem, answers, describe_validation
from regserver.records import aware, check_record, public, session_for_record, store, values
from regserver.responses import json_response
from regserver.state import Staff, State

router = APIRouter(prefix="/api/v2/staff")


async def _registered(conn: AsyncConnection, beneficiary_reference_id: str) -> bool:
    """Whether a beneficiary with this reference id exists."""
    query = sa.select(beneficiaries.c.beneficiary_reference_id).where(
        beneficiaries.c.beneficiary_reference_id == beneficiary_reference_id
    )
    return (await conn.execute(query)).first() is not None


async def _own_session(conn: AsyncConnection, record: s.DoseRecord, center_id: int) -> Any:
    """The record's session, if it is this centre's and the beneficiary exists."""
    session = await session_for_record(conn, record.session_id)
    if session is None:
        raise ApiProblem(404, "SESSION_NOT_FOUND", f"session_id: no session {record.session_id}")
    if session.center_id != center_id:
        raise ApiProblem(403, "OTHER_CENTER", "session_id: this session belongs to another centre")
    if not await _registered(conn, record.beneficiary_reference_id):
        raise ApiProblem(
            404, "BENEFICIARY_NOT_FOUND", f"beneficiary_reference_id: no beneficiary {record.beneficiary_reference_id}"
        )
    return session


async def _recorded(conn: AsyncConnection, beneficiary_reference_id: str, dose: int) -> Any:
    """The stored dose of this beneficiary with its session's centre, or None."""
    query = (
        sa.select(vaccinations, sessions.c.center_id)
        .join(sessions, sessions.c.session_id == vaccinations.c.session_id, isouter=True)
        .where(vaccinations.c.beneficiary_reference_id == beneficiary_reference_id, vaccinations.c.dose == dose)
    )
    return (await conn.execute(query)).first()


def _staff(who: tuple[int, str]) -> str:
    return f"{who[0]}:{who[1]}"


async def _dose(conn: AsyncConnection, db: Database, body: s.DoseRecord, who: tuple[int, str], scope: str) -> Any:
    """Check and store one online dose; the public answer. Refusals raise before anything is written."""
    session = await _own_session(conn, body, who[0])
    if await _recorded(conn, body.beneficiary_reference_id, body.dose) is not None:
        raise ApiProblem(409, "ALREADY_VACCINATED", f"dose {body.dose} already recorded")
    await check_record(conn, body, session)
    row = {**values(body, session, _staff(who), "online"), "idempotency_key": scope}
    if not await store(conn, db, body, session, row):
        raise ApiProblem(409, "ALREADY_VACCINATED", f"dose {body.dose} already recorded")
    return public(row)


async def _stored(conn: AsyncConnection, scope: str, lease: float) -> Response:
    """The stored answer of a key this run no longer holds (replayed), or 409 while another run holds it."""
    row = (await conn.execute(sa.select(idempotency).where(idempotency.c.scope_key == scope))).first()
    if row is not None and row.state == "done":
        replayed = {"Idempotent-Replayed": "true"}
        return Response(row.body, row.status_code, media_type="application/json", headers=replayed)
    left = lease - (time.time() - row.created_at) if row is not None else 1.0
    raise ApiProblem(
        409,
        "IDEMPOTENCY_IN_FLIGHT",
        "a request with this Idempotency-Key is being processed",
        {"Retry-After": str(max(1, math.ceil(left)))},
    )


async def _record_dose(
    db: Database, body: s.DoseRecord, who: tuple[int, str], scope: str, run: float, lease: float
) -> Response:
    """Store one online dose and its answer, if the claim stamped ``run`` is still this request's."""
    async with db.write() as conn:
        now = time.time()  # the write lock is held: the lease runs from here
        mine = await conn.execute(
            idempotency.update()
            .where(idempotency.c.scope_key == scope, idempotency.c.state == "running", idempotency.c.created_at == run)
            .values(created_at=now)
        )
        if not mine.rowcount:
            return await _stored(conn, scope, lease)
        try:
            status, answer = 201, await _dose(conn, db, body, who, scope)
        except ApiProblem as refused:
            # Refusals are stored too, so a retry gets the same answer (the draft's "replay the result").
            status, answer = refused.status, {"errorCode": refused.code, "error": refused.message}
        await conn.execute(
            idempotency.update()
            .where(idempotency.c.scope_key == scope, idempotency.c.state == "running", idempotency.c.created_at == now)
            .values(state="done", status_code=status, body=json.dumps(answer))
        )
    return json_response(answer, status)


@router.post(
    "/vaccinations",
    status_code=201,
    response_model=s.Vaccination,
    responses=answers(
        TOKEN,
        s400=("IDEMPOTENCY_KEY_MISSING",),
        s403=("OTHER_CENTER",),
        s404=("SESSION_NOT_FOUND", "BENEFICIARY_NOT_FOUND", "NO_APPOINTMENT"),
        s409=("ALREADY_VACCINATED", "IDEMPOTENCY_IN_FLIGHT"),
        s422=(
            "IDEMPOTENCY_KEY_REUSED",
            "ADMINISTERED_IN_FUTURE",
            "ADMINISTERED_OUTSIDE_SESSION",
            "WRONG_VACCINE",
            "DOSE_ORDER",
        ),
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
    db, lease = st.db, st.config.idempotency_lease
    async with db.write() as conn:
        run = time.time()  # after the write lock is taken: waiting for it uses none of the lease
        claimed = (
            await conn.execute(
                db.insert_ignore(idempotency)
                .values(scope_key=scope, fingerprint=fingerprint, state="running", created_at=run)
                .returning(idempotency.c.scope_key)
            )
        ).first()
        if claimed is None:
            row = (await conn.execute(sa.select(idempotency).where(idempotency.c.scope_key == scope))).one()
            if row.fingerprint != fingerprint:
                raise ApiProblem(422, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different body")
            if row.state == "done" or lease - (run - row.created_at) > 0:
                # Retry-After: the seconds left on the lease (whole seconds, at least 1), after which a
                # retry with the same key runs again if the first request died (a crash, a kill).
                return await _stored(conn, scope, lease)
            took_over = await conn.execute(
                idempotency.update()
                .where(
                    idempotency.c.scope_key == scope,
                    idempotency.c.state == "running",
                    idempotency.c.created_at == row.created_at,
                )
                .values(created_at=run)
            )
            if not took_over.rowcount:  # another retry took it over first
                return await _stored(conn, scope, lease)
    try:
        return await _record_dose(db, body, who, scope, run, lease)
    except BaseException:
        # Nothing was stored (the transaction rolled back, with its new stamp): free the key so a retry
        # can run, unless another run has taken it over by now.
        async with db.write() as conn:
            await conn.execute(
                idempotency.delete().where(
                    idempotency.c.scope_key == scope, idempotency.c.state == "running", idempotency.c.created_at == run
                )
            )
        raise


def _same(row: Any, record: s.DoseRecord) -> bool:
    return bool(
        row.beneficiary_reference_id == record.beneficiary_reference_id
        and row.session_id == record.session_id
        and row.dose == record.dose
        and row.vaccine == record.vaccine
        and row.batch == record.batch
        and row.administered_at == aware(record.administered_at).isoformat()
    )


def _conflict(client_id: str, existing: Any, center_id: int, reason: str) -> dict[str, Any]:
    """A conflict with a stored dose, described only if it is this centre's own record."""
    if existing.center_id != center_id:
        return {"client_record_id": client_id, "status": "conflict", "reason": f"{reason} at another centre"}
    return {
        "client_record_id": client_id,
        "status": "conflict",
        "vaccination_id": existing.vaccination_id,
        "reason": f"{reason} ({existing.source}, {existing.administered_at}, vaccination {existing.vaccination_id})",
    }


async def _known(conn: AsyncConnection, client_id: str, record: s.DoseRecord, center_id: int) -> dict[str, Any] | None:
    """The answer for a record already stored (this client_record_id, or this beneficiary's dose)."""
    query = (
        sa.select(vaccinations, sessions.c.center_id)
        .join(sessions, sessions.c.session_id == vaccinations.c.session_id, isouter=True)
        .where(vaccinations.c.client_record_id == client_id)
    )
    same_id = (await conn.execute(query)).first()
    if same_id is not None:
        if same_id.center_id == center_id and _same(same_id, record):
            return {"client_record_id": client_id, "status": "duplicate", "vaccination_id": same_id.vaccination_id}
        return _conflict(client_id, same_id, center_id, "client_record_id already used for a different record")
    other = await _recorded(conn, record.beneficiary_reference_id, record.dose)
    if other is not None:
        return _conflict(client_id, other, center_id, f"dose {record.dose} already recorded for this beneficiary")
    return None


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
    try:
        session = await _own_session(conn, record, who[0])
        known = await _known(conn, client_id, record, who[0])
        if known is not None:
            return known
        await check_record(conn, record, session)
        row = {**values(record, session, _staff(who), "sync"), "client_record_id": client_id}
        if await store(conn, db, record, session, row):
            return {"client_record_id": client_id, "status": "created", "vaccination_id": row["vaccination_id"]}
        # A concurrent batch stored it between the look-up and the insert (PostgreSQL).
        return await _known(conn, client_id, record, who[0]) or {
            "client_record_id": client_id,
            "status": "conflict",
            "reason": f"dose {record.dose} already recorded for this beneficiary",
        }
    except ApiProblem as refused:
        return {"client_record_id": client_id, "status": "rejected", "reason": refused.message}


@router.post("/sync", response_model=s.SyncAnswer, responses=answers(TOKEN))
async def sync(body: s.SyncBatch, who: Staff, st: State) -> Response:
    results: list[dict[str, Any]] = []
    chunk = max(1, st.config.sync_chunk)
    for start in range(0, len(body.records), chunk):
        if start:
            # Let a writer waiting for the write connection take it before this batch's next chunk.
            await asyncio.sleep(0)
        async with st.db.write() as conn:
            results += [await _sync_one(conn, st.db, dict(raw), who) for raw in body.records[start : start + chunk]]
    return json_response({"results": results})
