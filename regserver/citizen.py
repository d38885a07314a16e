"""Citizen routes: OTP login, metadata, beneficiaries, availability, booking, certificate, counters.

Paths, fields and codes follow docs/api-contract.md (Co-WIN's public API v2 shape).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError

from regserver import schemas as s
from regserver.db import appointments, beneficiaries, centers, districts, otp_txns, sessions, states, vaccinations
from regserver.errors import TOKEN, ApiProblem, answers
from regserver.limits import check_address
from regserver.responses import DATE_PATTERN, cached_json, fmt_date, json_response, parse_date
from regserver.security import mask_mobile
from regserver.state import Citizen, State
from vaxdrill.core.otp import drill_otp, otp_hash

log = logging.getLogger("regserver")
router = APIRouter(prefix="/api/v2")

DateText = Annotated[str, Query(pattern=DATE_PATTERN, description="DD-MM-YYYY, a real date from 1900 to 2199")]
Id = Annotated[int, Query(ge=1, le=2**31 - 1)]
MAX_BENEFICIARIES = 4


# --- OTP ---------------------------------------------------------------------------------------


@router.post(
    "/auth/public/generateOTP",
    response_model=s.TxnAnswer,
    responses=answers(s429=("OTP_RATE_LIMIT", "AUTH_RATE_LIMIT")),
)
async def generate_otp(body: s.GenerateOtp, st: State, request: Request) -> Response:
    await check_address(st, request)
    cfg, now = st.config, time.time()
    txn_id = str(uuid.uuid4())
    otp = drill_otp(body.mobile, cfg.drill_otp, txn_id) if cfg.drill_otp else f"{secrets.randbelow(10**6):06d}"
    async with st.db.write() as conn:
        # Count and insert under one lock per mobile: on PostgreSQL, concurrent requests would all count
        # the same few rows and all get through (SQLite's writers are serialised already).
        if not st.db.is_sqlite:
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:m))"), {"m": f"otp:{body.mobile}"})
        recent = (
            await conn.execute(
                sa.select(sa.func.count(), sa.func.min(otp_txns.c.created_at)).where(
                    otp_txns.c.mobile == body.mobile, otp_txns.c.created_at > now - cfg.otp_window
                )
            )
        ).one()
        if recent[0] >= cfg.otp_limit:
            wait = max(int(recent[1] + cfg.otp_window - now) + 1, 1)
            log.info("OTP refused for %s: %d in the window", mask_mobile(body.mobile), recent[0])
            raise ApiProblem(
                429,
                "OTP_RATE_LIMIT",
                f"too many OTP requests for this mobile; retry in {wait} s",
                {"Retry-After": str(wait)},
            )
        await conn.execute(
            otp_txns.insert().values(
                txn_id=txn_id,
                mobile=body.mobile,
                otp_hash=st.keys.otp_record(otp_hash(otp)),  # salted and keyed, not what confirmOTP is sent
                created_at=now,
                expires_at=now + cfg.otp_ttl,
                attempts=0,
                state="open",
            )
        )
    drop = delay = 0.0
    for fault in st.plan.live():
        if fault.fault.kind == "sms_drop" and st.plan.chance(fault.fault.rate if fault.fault.rate is not None else 1.0):
            drop = 1.0
        elif fault.fault.kind == "sms_delay":
            delay += st.plan.draw(fault.fault)
    await st.sms.send(body.mobile, f"Your vaxdrill OTP is {otp}. Valid for 3 minutes.", drop=bool(drop), delay=delay)
    log.info("OTP issued for %s", mask_mobile(body.mobile))
    return json_response({"txnId": txn_id})


@router.post(
    "/auth/public/confirmOTP",
    response_model=s.TokenAnswer,
    responses=answers(
        s401=("OTP_UNKNOWN_TXN", "OTP_WRONG"), s410=("OTP_TXN_ENDED", "OTP_EXPIRED"), s429=("AUTH_RATE_LIMIT",)
    ),
)
async def confirm_otp(body: s.ConfirmOtp, st: State, request: Request) -> Response:
    await check_address(st, request)
    now = time.time()
    outcome: tuple[int, str, str] | None = None
    async with st.db.write() as conn:
        # FOR UPDATE (PostgreSQL): two concurrent answers to one OTP cannot both use it.
        row = (await conn.execute(sa.select(otp_txns).where(otp_txns.c.txn_id == body.txnId).with_for_update())).first()
        if row is None:
            raise ApiProblem(401, "OTP_UNKNOWN_TXN", "unknown txnId; ask for a new OTP")
        if row.state != "open":
            raise ApiProblem(410, "OTP_TXN_ENDED", "this OTP transaction has ended; ask for a new OTP")
        if row.expires_at <= now:
            raise ApiProblem(410, "OTP_EXPIRED", "the OTP has expired (valid 3 minutes); ask for a new OTP")
        if not st.keys.otp_matches(row.otp_hash, body.otp):
            attempts = row.attempts + 1
            ended = attempts >= st.config.otp_attempts
            await conn.execute(
                otp_txns.update()
                .where(otp_txns.c.txn_id == body.txnId)
                .values(attempts=attempts, state="failed" if ended else "open")
            )
            left = st.config.otp_attempts - attempts
            outcome = (401, "OTP_WRONG", "wrong OTP; the transaction has ended" if ended else f"wrong OTP; {left} left")
        else:
            await conn.execute(otp_txns.update().where(otp_txns.c.txn_id == body.txnId).values(state="used"))
            mobile = row.mobile
    if outcome is not None:  # raised after the commit, so the failed attempt counts
        raise ApiProblem(*outcome)
    ttl = st.config.token_ttl
    return json_response({"token": st.signer.issue("citizen", mobile, ttl), "expires_in": int(ttl)})


# --- metadata ----------------------------------------------------------------------------------


@router.get("/admin/location/states", response_model=s.States, responses=answers())
async def list_states(st: State) -> Response:
    async with st.db.read() as conn:
        rows = (await conn.execute(sa.select(states).order_by(states.c.state_id))).all()
    return json_response({"states": [{"state_id": r.state_id, "state_name": r.state_name} for r in rows]}, max_age=300)


@router.get("/admin/location/districts/{state_id}", response_model=s.Districts, responses=answers(s404=("NOT_FOUND",)))
async def list_districts(state_id: int, st: State) -> Response:
    if not 1 <= state_id <= 2**31 - 1:
        raise ApiProblem(404, "NOT_FOUND", f"no state {state_id}")
    async with st.db.read() as conn:
        rows = (
            await conn.execute(
                sa.select(districts).where(districts.c.state_id == state_id).order_by(districts.c.district_id)
            )
        ).all()
    out = [{"district_id": r.district_id, "district_name": r.district_name} for r in rows]
    return json_response({"districts": out}, max_age=300)


# --- beneficiaries -----------------------------------------------------------------------------


def new_reference_id() -> str:
    """14 digits starting 1-9 (seeded beneficiaries start with 0, so the two never collide)."""
    return str(10**13 + secrets.randbelow(9 * 10**13))


@router.post(
    "/registration/beneficiary/new",
    response_model=s.BeneficiaryRef,
    responses=answers(TOKEN, s400=("BENEFICIARY_LIMIT",), s409=("PHOTO_ID_REGISTERED",)),
)
async def register_beneficiary(body: s.NewBeneficiary, mobile: Citizen, st: State) -> Response:
    ref = new_reference_id()
    id_hash = st.keys.id_hash(f"{body.photo_id_type}:{body.photo_id_number.upper()}")
    try:
        async with st.db.write() as conn:
            if not st.db.is_sqlite:  # SQLite writers are already serialised; PostgreSQL needs the lock
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:m))"), {"m": mobile})
            count = (
                await conn.execute(sa.select(sa.func.count()).where(beneficiaries.c.mobile == mobile))
            ).scalar_one()
            if count >= MAX_BENEFICIARIES:
                raise ApiProblem(
                    400, "BENEFICIARY_LIMIT", f"at most {MAX_BENEFICIARIES} beneficiaries per mobile number"
                )
            await conn.execute(
                beneficiaries.insert().values(
                    beneficiary_reference_id=ref,
                    mobile=mobile,
                    name=body.name,
                    birth_year=body.birth_year,
                    gender_id=body.gender_id,
                    photo_id_type=body.photo_id_type,
                    photo_id_hash=id_hash,
                    photo_id_last4=body.photo_id_number[-4:],
                    comorbidity_ind=body.comorbidity_ind,
                    created_at=time.time(),
                )
            )
    except IntegrityError:
        raise ApiProblem(409, "PHOTO_ID_REGISTERED", "this photo ID is already registered") from None
    return json_response({"beneficiary_reference_id": ref})


@router.get("/appointment/beneficiaries", response_model=s.Beneficiaries, responses=answers(TOKEN))
async def list_beneficiaries(mobile: Citizen, st: State) -> Response:
    async with st.db.read() as conn:
        people = (
            await conn.execute(
                sa.select(beneficiaries).where(beneficiaries.c.mobile == mobile).order_by(beneficiaries.c.created_at)
            )
        ).all()
        refs = [p.beneficiary_reference_id for p in people]
        booked = (
            await conn.execute(
                sa.select(appointments, sessions.c.date, sessions.c.center_id, centers.c.name)
                .join(sessions, sessions.c.session_id == appointments.c.session_id)
                .join(centers, centers.c.center_id == sessions.c.center_id)
                .where(appointments.c.beneficiary_reference_id.in_(refs), appointments.c.status == "booked")
            )
        ).all()
        doses = (
            await conn.execute(
                sa.select(
                    vaccinations.c.beneficiary_reference_id, vaccinations.c.dose, vaccinations.c.administered_date
                ).where(vaccinations.c.beneficiary_reference_id.in_(refs))
            )
        ).all()
    out = []
    for p in people:
        mine = {d.dose: d.administered_date for d in doses if d.beneficiary_reference_id == p.beneficiary_reference_id}
        status = "Vaccinated" if 2 in mine else "Partially Vaccinated" if 1 in mine else "Not Vaccinated"
        out.append(
            {
                "beneficiary_reference_id": p.beneficiary_reference_id,
                "name": p.name,
                "birth_year": p.birth_year,
                "vaccination_status": status,
                "dose1_date": fmt_date(mine[1]) if 1 in mine else "",
                "appointments": [
                    {
                        "appointment_id": a.appointment_id,
                        "session_id": a.session_id,
                        "center_id": a.center_id,
                        "name": a.name,
                        "date": fmt_date(a.date),
                        "slot": a.slot,
                        "dose": a.dose,
                    }
                    for a in booked
                    if a.beneficiary_reference_id == p.beneficiary_reference_id
                ],
            }
        )
    return json_response({"beneficiaries": out})


# --- availability ------------------------------------------------------------------------------


def _session_json(r: Any) -> dict[str, Any]:
    free1 = max(r.capacity_dose1 - r.booked_dose1, 0)
    free2 = max(r.capacity_dose2 - r.booked_dose2, 0)
    return {
        "session_id": r.session_id,
        "date": fmt_date(r.date),
        "available_capacity": free1 + free2,
        "available_capacity_dose1": free1,
        "available_capacity_dose2": free2,
        "min_age_limit": r.min_age_limit,
        "vaccine": r.vaccine,
        "slots": json.loads(r.slots),
    }


def _center_json(r: Any) -> dict[str, Any]:
    return {
        "center_id": r.center_id,
        "name": r.name,
        "state_name": r.state_name,
        "district_name": r.district_name,
        "pincode": r.pincode,
        "from": r.from_time,
        "to": r.to_time,
        "fee_type": r.fee_type,
    }


def _availability_query() -> Any:
    return (
        sa.select(
            sessions,
            centers.c.name,
            centers.c.pincode,
            centers.c.from_time,
            centers.c.to_time,
            centers.c.fee_type,
            districts.c.district_name,
            states.c.state_name,
        )
        .join(centers, centers.c.center_id == sessions.c.center_id)
        .join(districts, districts.c.district_id == centers.c.district_id)
        .join(states, states.c.state_id == districts.c.state_id)
        .order_by(centers.c.center_id, sessions.c.date)
    )


async def _find(
    st: Any, key: tuple[Any, ...], where: Callable[[], Any], days: int, calendar: bool, first: dt.date
) -> Response:
    now = time.time()
    hit = st.cache.get(key, now)
    if hit is not None:
        return cached_json(*hit)
    last = first + dt.timedelta(days=days - 1)
    # ``where`` is built only on a miss: a SQL expression costs more than the cache hit it would precede.
    query = _availability_query().where(where(), sessions.c.date >= first, sessions.c.date <= last)
    async with st.db.read() as conn:
        rows = (await conn.execute(query)).all()
    if calendar:
        by_center: dict[int, dict[str, Any]] = {}
        for r in rows:
            center = by_center.setdefault(r.center_id, {**_center_json(r), "sessions": []})
            center["sessions"].append(_session_json(r))
        data: dict[str, Any] = {"centers": list(by_center.values())}
    else:
        data = {"sessions": [{**_center_json(r), **_session_json(r)} for r in rows]}
    body = json.dumps(data).encode()
    st.cache.put(key, body, now)
    return cached_json(body, int(st.cache.ttl))


# The availability reads are the launch day's hottest routes: they take the Request and read the state
# from it, since a dependency (``State``) costs FastAPI a second round of dependency solving per call.
@router.get("/appointment/sessions/public/findByDistrict", response_model=s.Sessions, responses=answers())
async def find_by_district(district_id: Id, date: DateText, request: Request) -> Response:
    day = parse_date(date)
    where = lambda: centers.c.district_id == district_id  # noqa: E731
    return await _find(request.app.state.server, ("d", district_id, day), where, 1, False, day)


@router.get("/appointment/sessions/public/calendarByDistrict", response_model=s.Centers, responses=answers())
async def calendar_by_district(district_id: Id, date: DateText, request: Request) -> Response:
    day = parse_date(date)
    where = lambda: centers.c.district_id == district_id  # noqa: E731
    return await _find(request.app.state.server, ("cd", district_id, day), where, 7, True, day)


@router.get("/appointment/sessions/public/findByPin", response_model=s.Sessions, responses=answers())
async def find_by_pin(
    pincode: Annotated[str, Query(pattern=r"^[1-9][0-9]{5}$")], date: DateText, request: Request
) -> Response:
    day = parse_date(date)
    where = lambda: centers.c.pincode == pincode  # noqa: E731
    return await _find(request.app.state.server, ("p", pincode, day), where, 1, False, day)
