"""Seed data from a scenario's sites, so a load test sees the same sites as the simulation.

One state per ``state``, one district per ``district``, one centre per site, one session per site for
today with capacity = ``booked`` + 20% free, and ``booked`` pre-registered beneficiaries with
appointments (the list vaccinators work through). Ids are stable for the same scenario: states and
districts number 1, 2, ... in order of first appearance; centre ids are 100001, 100002, ... in site
order; session ids are UUID5s of the scenario and site names; beneficiary ids are ``0`` + 5-digit
site number + 8-digit serial (citizen-registered ids never start with 0); seeded mobiles are
``6`` + 4-digit site number + 5-digit serial. Seeding again is harmless (existing rows are kept) and
moves the seeded sessions to today.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from regserver.db import Database, appointments, beneficiaries, centers, districts, sessions, states
from regserver.security import KeyRing
from vaxdrill.core.scenario.model import Scenario

NAMESPACE = uuid.UUID("6f1d7c1e-3b7a-4f38-9a55-7d1c0e0a2b11")
FREE_SHARE = 0.2
VACCINE = "COVISHIELD"


def _clock(seconds: float) -> str:
    """``10:30AM`` from seconds after midnight."""
    minutes = round(seconds / 60) % (24 * 60)
    hour, minute = divmod(minutes, 60)
    return f"{(hour % 12) or 12:02d}:{minute:02d}{'AM' if hour < 12 else 'PM'}"


def slots_for(opens: float, closes: float, length: float) -> list[str]:
    """Appointment slots of ``length`` from opening to closing (the last one may be shorter)."""
    out: list[str] = []
    start = opens
    while start < closes and len(out) < 24:
        end = min(start + length, closes)
        out.append(f"{_clock(start)}-{_clock(end)}")
        start = end
    return out


@dataclass(frozen=True)
class SeedSummary:
    states: int
    districts: int
    centers: int
    sessions: int
    beneficiaries: int


def session_id_for(scenario: Scenario, site_name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{scenario.name}/{site_name}/session"))


async def seed(db: Database, scenario: Scenario, keys: KeyRing, today: dt.date | None = None) -> SeedSummary:
    today = today or dt.date.today()
    state_ids: dict[str, int] = {}
    district_ids: dict[tuple[str, str], int] = {}
    rows: dict[str, list[dict[str, Any]]] = {
        "states": [],
        "districts": [],
        "centers": [],
        "sessions": [],
        "people": [],
        "appts": [],
    }
    now = time.time()
    for index, site in enumerate(scenario.sites, start=1):
        if site.state not in state_ids:
            state_ids[site.state] = len(state_ids) + 1
            rows["states"].append({"state_id": state_ids[site.state], "state_name": site.state})
        key = (site.state, site.district)
        if key not in district_ids:
            district_ids[key] = len(district_ids) + 1
            rows["districts"].append(
                {"district_id": district_ids[key], "state_id": state_ids[site.state], "district_name": site.district}
            )
        center_id = 100000 + index
        rows["centers"].append(
            {
                "center_id": center_id,
                "name": site.name,
                "district_id": district_ids[key],
                "pincode": site.pincode if site.pincode and len(site.pincode) == 6 else f"{110000 + index:06d}",
                "from_time": _clock(site.opens),
                "to_time": _clock(site.closes),
                "fee_type": "Free",
            }
        )
        slots = slots_for(site.opens, site.closes, site.arrivals.slot_length)
        session_id = session_id_for(scenario, site.name)
        rows["sessions"].append(
            {
                "session_id": session_id,
                "center_id": center_id,
                "date": today,
                "vaccine": VACCINE,
                "min_age_limit": 18,
                "slots": json.dumps(slots),
                "capacity_dose1": site.booked + math.ceil(site.booked * FREE_SHARE),
                "capacity_dose2": 0,  # launch day: nobody has had a first dose yet
                "booked_dose1": site.booked,
                "booked_dose2": 0,
            }
        )
        for n in range(site.booked):
            ref = f"0{index:05d}{n + 1:08d}"
            rows["people"].append(
                {
                    "beneficiary_reference_id": ref,
                    "mobile": f"6{index % 10000:04d}{(n + 1) % 100000:05d}",
                    "name": f"Beneficiary {n + 1} of {site.name}"[:200],
                    "birth_year": 1950 + (n * 7) % 50,
                    "gender_id": n % 3 + 1,
                    "photo_id_type": 1,
                    "photo_id_hash": keys.id_hash(f"seed:{scenario.name}:{ref}"),
                    "photo_id_last4": f"{n % 10000:04d}",
                    "comorbidity_ind": "N",
                    "created_at": now,
                }
            )
            rows["appts"].append(
                {
                    "appointment_id": str(uuid.uuid5(NAMESPACE, f"{scenario.name}/{ref}")),
                    "beneficiary_reference_id": ref,
                    "session_id": session_id,
                    "slot": slots[n * len(slots) // max(site.booked, 1)],
                    "dose": 1,
                    "status": "booked",
                    "created_at": now,
                }
            )
    async with db.write() as conn:
        for table, batch in [
            (states, rows["states"]),
            (districts, rows["districts"]),
            (centers, rows["centers"]),
            (sessions, rows["sessions"]),
            (beneficiaries, rows["people"]),
            (appointments, rows["appts"]),
        ]:
            for start in range(0, len(batch), 5000):
                if batch[start : start + 5000]:
                    await conn.execute(db.insert_ignore(table), batch[start : start + 5000])
        ids = [r["session_id"] for r in rows["sessions"]]
        if ids:
            await conn.execute(sa.update(sessions).where(sessions.c.session_id.in_(ids)).values(date=today))
    return SeedSummary(
        len(rows["states"]), len(rows["districts"]), len(rows["centers"]), len(rows["sessions"]), len(rows["people"])
    )
