"""Site staff: the due list, verify, record with an Idempotency-Key; paper and batch sync in an outage.

When the server fails (503, no answer), the vaccinator does not stop: each dose is written on paper
at ``journey.paper_pace`` into the user's outbox (the record's ``client_record_id`` is the key its
online attempt used, so a dose whose online answer was lost is recognised). Every 2 s the
vaccinator probes with a batch sync; once the server answers, the outbox is sent and work goes on
online. Every dose goes into the ledger the integrity check compares with the server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from typing import Any

import gevent
import numpy as np
from locust import task
from locust.contrib.fasthttp import FastHttpSession

from locustfiles.api_call import call
from locustfiles.drill_user import DrillUser
from locustfiles.paper import Outbox, PaperRecord
from locustfiles.run_context import RunContext
from vaxdrill.core.secrets import DRILL_STAFF_ID
from vaxdrill.loadtest.paper_sync import definite_refusal, settle
from vaxdrill.loadtest.retry import RetryBudget, in_flight_wait


def _sync(
    ctx: RunContext,
    client: Any,
    records: list[PaperRecord],
    auth: dict[str, str],
    rng: np.random.Generator,
    budget: RetryBudget,
) -> bool:
    """Send one batch; True once every record has its final answer (the batch leaves the outbox), False
    if it must be sent again (:mod:`vaxdrill.loadtest.paper_sync`). A record the server holds has its
    ledger entry marked synced and its lag recorded; one it rejected is final, its entry ``refused``."""
    body = {"records": [r.sync_record for r in records]}
    ans = call(
        client, "POST", "/staff/sync", "sync", policy=ctx.load.retry, budget=budget, rng=rng, body=body, headers=auth
    )
    settled = settle([r.client_record_id for r in records], ans.status, ans.error_code, ans.body)
    if settled.again:
        return False
    now = time.time()
    for rec in records:
        status = settled.held.get(rec.client_record_id)
        if status is not None:
            rec.entry["synced"] = True
            rec.entry["sync_status"] = status
            ctx.observe("sync_lag", (now - rec.recorded_at) * 1000.0)
            ctx.count("synced_records")
        else:
            reason = settled.refused[rec.client_record_id]
            rec.entry.update(via="refused", synced=True, sync_status="rejected", reason=reason)
            ctx.count("refused_records")
    return True


def flush_outboxes(ctx: RunContext, deadline_s: float) -> None:
    """At the end of a run: send every outbox (the drain), retrying until ``deadline_s``."""
    if not any(ctx.outboxes):
        return
    assert ctx.environment is not None
    client = FastHttpSession(ctx.host, ctx.environment.events.request, user=None)
    rng, budget = ctx.rng(999_999), RetryBudget(ratio=1.0, max_tokens=100, tokens=100)
    auth_by_center: dict[int, dict[str, str]] = {}
    end = time.time() + deadline_s
    for outbox in ctx.outboxes:
        while outbox and time.time() < end:
            batch = outbox[: ctx.load.journey.sync_batch]
            center = batch[0].center_id
            auth = auth_by_center.get(center) or _staff_login(ctx, client, center, rng, budget)
            if auth is None:
                gevent.sleep(0.5)
                continue
            auth_by_center[center] = auth
            if _sync(ctx, client, batch, auth, rng, budget):
                del outbox[: len(batch)]
            else:
                gevent.sleep(0.5)


def _staff_login(
    ctx: RunContext, client: Any, center_id: Any, rng: np.random.Generator, budget: RetryBudget
) -> dict[str, str] | None:
    ans = call(
        client,
        "POST",
        "/staff/login",
        "staff/login",
        policy=ctx.load.retry,
        budget=budget,
        rng=rng,
        # The centre's drill account, whose credential derives from the run's drill staff key.
        body={"center_id": center_id, "staff_id": DRILL_STAFF_ID, "secret": ctx.secrets.staff_credential(center_id)},
    )
    return {"Authorization": f"Bearer {ans.body['token']}"} if ans.ok else None


def _refused(ans: Any) -> bool:
    """A definite refusal of the record (404, 403, 409 ALREADY_VACCINATED, 422): no outage, no retry."""
    return definite_refusal(ans.status, ans.error_code)


class Vaccinator(DrillUser):
    """Site staff working through the day's due list; paper when the server fails."""

    gate_name = "Vaccinator"

    def on_start(self) -> None:
        self.think = self.ctx.load.think_time.vaccinator
        self.outbox = Outbox()
        self.ctx.outboxes.append(self.outbox)
        self.session: dict[str, Any] | None = None
        self.auth: dict[str, str] | None = None
        self.online = True
        self.last_probe = 0.0
        self.doses = 0

    def _setup(self) -> bool:
        """Pick a session (site) and log in; the due list is fetched once per process and session."""
        if self.session is None:
            sessions = self.ctx.staff_sessions
            if sessions is None:
                sessions = self._load_sessions()
                if not sessions:
                    return False
            self.session = sessions[self.number % len(sessions)]
        if self.auth is None:
            self.auth = _staff_login(self.ctx, self.client, self.session["center_id"], self.rng, self.budget)
        return self.auth is not None

    def _load_sessions(self) -> list[dict[str, Any]]:
        sessions = self.find_sessions()
        if sessions:
            self.ctx.staff_sessions = sessions
        return sessions

    def _next_beneficiary(self) -> dict[str, Any] | None:
        """The next unclaimed person on the due list; across workers each takes its own share."""
        assert self.session is not None and self.auth is not None
        session_id = str(self.session["session_id"])
        due = self.ctx.due_lists.get(session_id)
        if due is None:
            ans = self.api("GET", f"/staff/sessions/{session_id}/due", "due", headers=self.auth)
            if not ans.ok:
                return None
            due = self.ctx.due_lists[session_id] = list(ans.body.get("beneficiaries", []))
        for person in due:
            ref = str(person["beneficiary_reference_id"])
            if person.get("vaccinated") or ref in self.ctx.claimed:
                continue
            if (
                int(hashlib.sha256(ref.encode()).hexdigest()[:8], 16) % self.ctx.workers
                != self.ctx.slot % self.ctx.workers
            ):
                continue
            self.ctx.claimed.add(ref)
            return person
        return None

    @task
    def vaccinate(self) -> None:
        self.iterate(self._vaccinate)

    def _vaccinate(self) -> None:
        if self.ctx.draining or not self._setup():
            return
        self.ctx.busy_vaccinators += 1
        try:
            self._one_dose()
        finally:
            self.ctx.busy_vaccinators -= 1

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
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"vaxdrill:{self.ctx.run}:{self.ctx.slot}:{self.number}:{self.doses}"))
        record = {
            "beneficiary_reference_id": ref,
            "session_id": session_id,
            "vaccine": self.session.get("vaccine", "COVISHIELD"),
            "batch": "4120Z001",
            "dose": int(person.get("dose", 1)),  # the dose the appointment is for
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
            if ver.status == 401:
                self.auth = None  # the token is no longer accepted: log in again next time
                self.ctx.claimed.discard(ref)  # nothing given: the person waits for the next dose
                return
            if ver.status == 409 or (400 <= ver.status < 500 and ver.status not in (408, 429)):
                return  # already vaccinated for this dose, or unknown: nothing to give
            if ver.ok:
                # Verified: the dose is given now. From here it is recorded online, on paper, or at the
                # least kept in the ledger, so the integrity check sees any dose the server lacks.
                record["administered_at"] = dt.datetime.now(dt.UTC).isoformat()
                ans = self._record_online(record, key)
                if ans.ok:
                    self._ledger(record, "online", key)
                    self.ctx.count("online_records")
                    return
                if ans.status == 401:
                    self.auth = None
                elif _refused(ans):
                    self._ledger(record, "refused", key)
                    self.ctx.count("refused_records")
                    return
            self.online = False
            self.last_probe = time.time()
        # Paper: the dose is given and written down; the record waits in the outbox. The key is reused
        # as client_record_id, so a dose whose online answer was lost is recognised by sync.
        self.pause(self.ctx.load.journey.paper_pace)
        record.setdefault("administered_at", dt.datetime.now(dt.UTC).isoformat())
        entry = self._ledger(record, "paper", key, synced=False)
        self.outbox.append(
            PaperRecord(
                sync_record={**record, "client_record_id": key},
                entry=entry,
                recorded_at=time.time(),
                center_id=int(self.session["center_id"]),
            )
        )
        self.ctx.count("paper_records")

    def _record_online(self, record: dict[str, Any], key: str) -> Any:
        """POST the dose; on 409 IDEMPOTENCY_IN_FLIGHT (an earlier attempt with this key is being
        processed, or died in a crash and holds its lease) wait what ``Retry-After`` says and ask again
        with the same key, until the lease has passed (a replay, or the request runs again). The answer
        is still 409 only when patience ran out; the caller then puts the dose on paper."""
        assert self.auth is not None
        waited = 0.0
        while True:
            ans = self.api(
                "POST",
                "/staff/vaccinations",
                "vaccinations",
                headers={**self.auth, "Idempotency-Key": key},
                body=record,
                expected=(409,),
            )
            if ans.status != 409 or ans.error_code != "IDEMPOTENCY_IN_FLIGHT" or self.ctx.draining:
                return ans
            wait = in_flight_wait(ans.header("retry-after"), waited)
            if wait is None:
                return ans
            self.ctx.count("in_flight_waits")
            gevent.sleep(wait)
            waited += wait

    def _ledger(self, record: dict[str, Any], via: str, key: str, synced: bool = True) -> dict[str, Any]:
        entry = {
            "beneficiary_reference_id": record["beneficiary_reference_id"],
            "session_id": record["session_id"],
            "dose": record["dose"],
            "via": via,
            "key": key,
            "synced": synced,
        }
        self.ctx.ledger.append(entry)
        return entry

    def _try_sync(self) -> None:
        """Probe with a batch; if the server answers, go back online and send the rest."""
        assert self.auth is not None
        self.last_probe = time.time()
        while self.outbox and not self.ctx.draining:
            batch = self.outbox[: self.ctx.load.journey.sync_batch]
            if not _sync(self.ctx, self.client, batch, self.auth, self.rng, self.budget):
                return
            del self.outbox[: len(batch)]
        self.online = True
