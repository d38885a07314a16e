"""Launch day against a Co-WIN-shaped registration server: citizens, vaccinators, slot-watching bots.

Plain Locust works::

    locust -f locustfiles/launch_day.py --host http://127.0.0.1:8000             # web UI
    locust -f locustfiles/launch_day.py --host http://127.0.0.1:8000 --headless  # shape ends the run

The scenario (``--scenario FILE`` or ``VAXDRILL_SCENARIO``; default the Raigad example) gives the
mix, think times, shape and SLOs. Its ``load.shape`` picks the shape class: ``launch_day`` ->
:class:`LaunchDayShape` (closed model), ``steps`` -> :class:`StepShape` and ``open`` ->
:class:`OpenModelShape` (open model), ``constant`` -> none (use ``-u/-r/-t``).

User classes:

- :class:`Citizen`: OTP, confirm, register 1-4 beneficiaries, search, book (409 ``APPOIN0040``:
  try another session), sometimes cancel or reschedule, later try the certificate.
- :class:`Vaccinator`: verify the next beneficiary on the site's due list, record the dose with an
  ``Idempotency-Key``; when the server fails, go on at paper pace into a local outbox and send it
  through batch sync once the server answers again (metrics: paper records, outbox depth, sync lag).
- :class:`SlotWatcher`: polls availability every few seconds, like the 2021 bots.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from typing import Any

import gevent
import numpy as np
from locust import FastHttpUser, task
from locust.contrib.fasthttp import FastHttpSession

from locustfiles import _drill
from locustfiles._api import Answer, call
from locustfiles._drill import STATE
from vaxdrill.loadtest.retry import RetryBudget
from vaxdrill.otp import drill_otp, otp_hash
from vaxdrill.scenario.distributions import Distribution

_SCENARIO = _drill.early_load()
_SHAPE = _SCENARIO.load.shape if _SCENARIO.load else "launch_day"
if _drill.os.environ.get("VAXDRILL_MODE") == "capacity":
    from locustfiles._openmodel import OpenModelShape as OpenModelShape
elif _SHAPE == "launch_day":
    from locustfiles._openmodel import LaunchDayShape as LaunchDayShape
elif _SHAPE == "steps":
    from locustfiles._openmodel import StepShape as StepShape
elif _SHAPE == "open":
    from locustfiles._openmodel import OpenModelShape as OpenModelShape


def _today() -> str:
    return dt.date.today().strftime("%d-%m-%Y")


class DrillUser(FastHttpUser):
    """Common parts: seeded random stream, retry budget, think times, open-model iterations."""

    abstract = True
    think: Distribution
    gate_name = ""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.number = STATE.next_user_number()
        self.rng: np.random.Generator = STATE.rng(self.number)
        self.budget = RetryBudget(ratio=STATE.load.retry.budget)
        self.network_timeout = STATE.load.request_timeout
        self.connection_timeout = min(STATE.load.request_timeout, 5.0)

    def wait_time(self) -> float:  # type: ignore[override]
        if self.gate_name in STATE.gates:
            return 0.0  # the open model's gate sets the pace
        return float(self.think.sample(self.rng, 1)[0])

    def api(self, method: str, path: str, name: str, **kw: Any) -> Answer:
        return call(self.client, method, path, name, policy=STATE.load.retry, budget=self.budget, rng=self.rng, **kw)

    def pause(self, dist: Distribution | None = None) -> None:
        gevent.sleep(float((dist or self.think).sample(self.rng, 1)[0]))

    def iterate(self, journey: Any) -> None:
        gate = STATE.gates.get(self.gate_name)
        if gate is None:
            if not STATE.draining:
                STATE.count("iterations")
                journey()
            return
        due = gate.acquire()
        if due is None:
            gevent.sleep(0.5)
            return
        started = time.time()
        try:
            journey()
        finally:
            gate.done(due, started)

    def district_id(self) -> Any:
        """The scenario's district, looked up once per process (states, then districts)."""
        if "district_id" in STATE.cache:
            return STATE.cache["district_id"]
        states = self.api("GET", "/admin/location/states", "states")
        for state in (states.body or {}).get("states", []) if states.ok else []:
            districts = self.api("GET", f"/admin/location/districts/{state['state_id']}", "districts")
            if districts.ok and districts.body.get("districts"):
                STATE.cache["district_id"] = districts.body["districts"][0]["district_id"]
                return STATE.cache["district_id"]
        return None


class Citizen(DrillUser):
    """A person registering their family on launch day."""

    weight = _SCENARIO.load.mix.citizen if _SCENARIO.load else 8
    gate_name = "Citizen"

    def on_start(self) -> None:
        self.think = STATE.load.think_time.citizen

    @task
    def journey(self) -> None:
        self.iterate(self._journey)

    def _journey(self) -> None:
        assert STATE.identities is not None
        who = STATE.identities.next()
        plan = STATE.load.journey
        otp = self.api("POST", "/auth/public/generateOTP", "generateOTP", body={"mobile": who.mobile})
        if not otp.ok:
            return
        txn = otp.body["txnId"]
        self.pause()
        code = drill_otp(who.mobile, STATE.drill_otp, txn)
        login = self.api("POST", "/auth/public/confirmOTP", "confirmOTP", body={"otp": otp_hash(code), "txnId": txn})
        if not login.ok:
            return
        auth = {"Authorization": f"Bearer {login.body['token']}"}
        weights = np.asarray(plan.beneficiaries_weights, dtype=float)
        family = int(self.rng.choice(len(weights), p=weights / weights.sum())) + 1
        ids: list[str] = []
        for k in range(family):
            kind, number = who.photo_id(k)
            person = {
                "name": who.name(k),
                "birth_year": int(self.rng.integers(1950, 2003)),
                "gender_id": int(k % 3 + 1),
                "photo_id_type": kind,
                "photo_id_number": number,
                "comorbidity_ind": "N",
                "consent_version": "V1",
            }
            ans = self.api("POST", "/registration/beneficiary/new", "beneficiary/new", body=person, headers=auth)
            if ans.ok:
                ids.append(ans.body["beneficiary_reference_id"])
            self.pause()
        if not ids:
            return
        booking = self._book(ids, auth)
        if booking is None:
            return
        appointment, session_id = booking
        roll = self.rng.random()
        if roll < plan.cancel:
            self.pause()
            self.api(
                "POST",
                "/appointment/cancel",
                "cancel",
                headers=auth,
                body={"appointment_id": appointment, "beneficiariesToCancel": ids},
            )
        elif roll < plan.cancel + plan.reschedule:
            self.pause()
            other = self._pick_session(len(ids), exclude={session_id})
            if other is not None:
                self.api(
                    "POST",
                    "/appointment/reschedule",
                    "reschedule",
                    headers=auth,
                    expected=(409,),
                    body={
                        "appointment_id": appointment,
                        "session_id": other["session_id"],
                        "slot": other["slots"][0] if other.get("slots") else "",
                    },
                )
        if self.rng.random() < plan.certificate:
            self.pause()
            self.api(
                "GET",
                "/registration/certificate/public/download",
                "certificate",
                headers=auth,
                params={"beneficiary_reference_id": ids[0]},
                expected=(404,),
            )

    def _sessions(self) -> list[dict[str, Any]]:
        district = self.district_id()
        if district is None:
            return []
        ans = self.api(
            "GET",
            "/appointment/sessions/public/findByDistrict",
            "findByDistrict",
            params={"district_id": district, "date": _today()},
        )
        return list((ans.body or {}).get("sessions", [])) if ans.ok else []

    def _pick_session(self, seats: int, exclude: set[str] | None = None) -> dict[str, Any] | None:
        open_ = [
            s
            for s in self._sessions()
            if int(s.get("available_capacity", 0)) >= seats and s["session_id"] not in (exclude or set())
        ]
        return open_[int(self.rng.integers(len(open_)))] if open_ else None

    def _book(self, ids: list[str], auth: dict[str, str]) -> tuple[str, str] | None:
        tried: set[str] = set()
        for _ in range(3):  # 409 APPOIN0040: the session filled up meanwhile; try another
            session = self._pick_session(len(ids), exclude=tried)
            if session is None:
                return None
            self.pause()
            slot = session["slots"][int(self.rng.integers(len(session["slots"])))] if session.get("slots") else ""
            ans = self.api(
                "POST",
                "/appointment/schedule",
                "schedule",
                headers=auth,
                expected=(409,),
                body={
                    "dose": 1,
                    "session_id": session["session_id"],
                    "slot": slot,
                    "beneficiaries": ids,
                    "center_id": session.get("center_id"),
                },
            )
            if ans.ok:
                return str(ans.body["appointment_confirmation_no"]), session["session_id"]
            if ans.status != 409:
                return None
            tried.add(session["session_id"])
        return None


class SlotWatcher(DrillUser):
    """A 2021 slot-watching bot: polls availability every few seconds."""

    weight = _SCENARIO.load.mix.slot_watcher if _SCENARIO.load else 1
    gate_name = "SlotWatcher"

    def on_start(self) -> None:
        self.think = STATE.load.journey.watcher_poll

    @task
    def poll(self) -> None:
        self.iterate(self._poll)

    def _poll(self) -> None:
        district = self.district_id()
        if district is None:
            return
        path = "findByDistrict" if self.rng.random() < 0.7 else "calendarByDistrict"
        self.api(
            "GET", f"/appointment/sessions/public/{path}", path, params={"district_id": district, "date": _today()}
        )


# -- vaccinators ------------------------------------------------------------------------------
class Outbox(list[dict[str, Any]]):
    """Paper records waiting for batch sync (one per vaccinator)."""


def _sync(
    client: Any, records: list[dict[str, Any]], auth: dict[str, str], rng: np.random.Generator, budget: RetryBudget
) -> bool:
    """Send one batch; on an answer mark each record's ledger entry synced and record its lag."""
    body = {"records": [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]}
    ans = call(
        client, "POST", "/staff/sync", "sync", policy=STATE.load.retry, budget=budget, rng=rng, body=body, headers=auth
    )
    if not ans.ok:
        return False
    answered = {r["client_record_id"]: r for r in ans.body.get("results", [])}
    now = time.time()
    for rec in records:
        res = answered.get(rec["client_record_id"])
        if res is not None and res.get("status") in ("created", "duplicate", "conflict"):
            rec["_entry"]["synced"] = True
            rec["_entry"]["sync_status"] = res.get("status")
            STATE.observe("sync_lag", (now - rec["_recorded"]) * 1000.0)
            STATE.count("synced_records")
        elif res is not None:
            rec["_entry"]["sync_status"] = res.get("status")
            rec["_entry"]["synced"] = False
    return True


def flush_outboxes(deadline_s: float) -> None:
    """At the end of a run: send every outbox (the drain), retrying until ``deadline_s``."""
    if not any(STATE.outboxes):
        return
    assert STATE.env is not None
    client = FastHttpSession(STATE.host, STATE.env.events.request, user=None)
    rng, budget = STATE.rng(999_999), RetryBudget(ratio=1.0, max_tokens=100, tokens=100)
    auth_by_session: dict[str, dict[str, str]] = {}
    end = time.time() + deadline_s
    for outbox in STATE.outboxes:
        while outbox and time.time() < end:
            batch = outbox[: STATE.load.journey.sync_batch]
            auth = auth_by_session.get(batch[0]["_center"]) or _staff_login(client, batch[0]["_center"], rng, budget)
            if auth is None:
                gevent.sleep(0.5)
                continue
            auth_by_session[batch[0]["_center"]] = auth
            if _sync(client, batch, auth, rng, budget):
                del outbox[: len(batch)]
            else:
                gevent.sleep(0.5)


def _staff_login(client: Any, center_id: Any, rng: np.random.Generator, budget: RetryBudget) -> dict[str, str] | None:
    ans = call(
        client,
        "POST",
        "/staff/login",
        "staff/login",
        policy=STATE.load.retry,
        budget=budget,
        rng=rng,
        body={"center_id": center_id, "staff_id": f"drill-{STATE.slot}", "secret": STATE.staff_secret},
    )
    return {"Authorization": f"Bearer {ans.body['token']}"} if ans.ok else None


class Vaccinator(DrillUser):
    """Site staff working through the day's due list; paper when the server fails."""

    weight = _SCENARIO.load.mix.vaccinator if _SCENARIO.load else 1
    gate_name = "Vaccinator"

    def on_start(self) -> None:
        self.think = STATE.load.think_time.vaccinator
        self.outbox = Outbox()
        STATE.outboxes.append(self.outbox)
        self.session: dict[str, Any] | None = None
        self.auth: dict[str, str] | None = None
        self.online = True
        self.last_probe = 0.0
        self.doses = 0

    def _setup(self) -> bool:
        """Pick a session (site) and log in; the due list is fetched once per process and session."""
        if self.session is None:
            sessions = STATE.cache.get("staff_sessions")
            if sessions is None:
                sessions = self._load_sessions()
                if not sessions:
                    return False
            self.session = sessions[self.number % len(sessions)]
        if self.auth is None:
            self.auth = _staff_login(self.client, self.session["center_id"], self.rng, self.budget)
        return self.auth is not None

    def _load_sessions(self) -> list[dict[str, Any]]:
        district = self.district_id()
        if district is None:
            return []
        ans = self.api(
            "GET",
            "/appointment/sessions/public/findByDistrict",
            "findByDistrict",
            params={"district_id": district, "date": _today()},
        )
        sessions = list((ans.body or {}).get("sessions", [])) if ans.ok else []
        if sessions:
            STATE.cache["staff_sessions"] = sessions
        return sessions

    def _next_beneficiary(self) -> dict[str, Any] | None:
        """The next unclaimed person on the due list; across workers each takes its own share."""
        assert self.session is not None and self.auth is not None
        key = f"due:{self.session['session_id']}"
        due = STATE.cache.get(key)
        if due is None:
            ans = self.api("GET", f"/staff/sessions/{self.session['session_id']}/due", "due", headers=self.auth)
            if not ans.ok:
                return None
            due = STATE.cache[key] = ans.body.get("beneficiaries", [])
        for person in due:
            ref = str(person["beneficiary_reference_id"])
            if person.get("vaccinated") or ref in STATE.claimed:
                continue
            if int(hashlib.sha256(ref.encode()).hexdigest()[:8], 16) % STATE.workers != STATE.slot % STATE.workers:
                continue
            STATE.claimed.add(ref)
            return person
        return None

    @task
    def vaccinate(self) -> None:
        self.iterate(self._vaccinate)

    def _vaccinate(self) -> None:
        if STATE.draining or not self._setup():
            return
        STATE.busy_vaccinators += 1
        try:
            self._one_dose()
        finally:
            STATE.busy_vaccinators -= 1

    def _one_dose(self) -> None:
        assert self.session is not None and self.auth is not None
        if not self.online and self.outbox and time.time() - self.last_probe > 2.0:
            self._try_sync()
        person = self._next_beneficiary()
        if person is None:
            if self.outbox:
                self._try_sync()
            return
        ref, session_id = str(person["beneficiary_reference_id"]), self.session["session_id"]
        # Unique per run, worker, user and dose: keys must never repeat on a long-lived server.
        self.doses += 1
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"vaxdrill:{STATE.run}:{STATE.slot}:{self.number}:{self.doses}"))
        record = {
            "beneficiary_reference_id": ref,
            "session_id": session_id,
            "vaccine": self.session.get("vaccine", "COVISHIELD"),
            "batch": "4120Z001",
            "dose": 1,
        }
        if self.online:
            ver = self.api(
                "POST",
                "/staff/verify",
                "verify",
                headers=self.auth,
                expected=(409,),
                body={"beneficiary_reference_id": ref, "session_id": session_id},
            )
            if ver.status == 409 or (400 <= ver.status < 500 and ver.status not in (408, 429)):
                return  # already vaccinated for this dose, or unknown: nothing to give
            if ver.ok:
                record["administered_at"] = dt.datetime.now(dt.UTC).isoformat()
                ans = self.api(
                    "POST",
                    "/staff/vaccinations",
                    "vaccinations",
                    headers={**self.auth, "Idempotency-Key": key},
                    body=record,
                )
                if ans.ok:
                    self._ledger(record, "online", key)
                    STATE.count("online_records")
                    return
                if 400 <= ans.status < 500 and ans.status not in (408, 429):
                    return  # refused (not an outage): not given
            self.online = False
            self.last_probe = time.time()
        # Paper: the dose is given and written down; the record waits in the outbox. The key is reused
        # as client_record_id, so a dose whose online answer was lost is recognised by sync.
        self.pause(STATE.load.journey.paper_pace)
        record["administered_at"] = dt.datetime.now(dt.UTC).isoformat()
        entry = self._ledger(record, "paper", key, synced=False)
        self.outbox.append(
            {
                **record,
                "client_record_id": key,
                "_entry": entry,
                "_recorded": time.time(),
                "_center": self.session["center_id"],
            }
        )
        STATE.count("paper_records")

    def _ledger(self, record: dict[str, Any], via: str, key: str, synced: bool = True) -> dict[str, Any]:
        entry = {
            "beneficiary_reference_id": record["beneficiary_reference_id"],
            "session_id": record["session_id"],
            "dose": record["dose"],
            "via": via,
            "key": key,
            "synced": synced,
        }
        STATE.ledger.append(entry)
        return entry

    def _try_sync(self) -> None:
        """Probe with a batch; if the server answers, go back online and send the rest."""
        assert self.auth is not None
        self.last_probe = time.time()
        while self.outbox and not STATE.draining:
            batch = self.outbox[: STATE.load.journey.sync_batch]
            if not _sync(self.client, batch, self.auth, self.rng, self.budget):
                return
            del self.outbox[: len(batch)]
        self.online = True
