"""Launch day against a Co-WIN-shaped registration server: citizens, vaccinators, slot-watching bots.

Plain Locust works::

    locust -f locustfiles/launch_day.py --host http://127.0.0.1:8000             # web UI
    locust -f locustfiles/launch_day.py --host http://127.0.0.1:8000 --headless  # shape ends the run

The scenario (``--scenario FILE`` or ``VAXDRILL_SCENARIO``; default the Raigad example) gives the
mix, think times, shape and SLOs. It is read at Locust's ``init`` (:func:`locustfiles.lifecycle.install`),
never at import. Its ``load.shape`` picks the shape: ``launch_day`` -> ``LaunchDayShape`` (closed
model), ``steps`` -> ``StepShape`` and ``open`` -> ``OpenModelShape`` (open model,
:mod:`locustfiles.open_model`), ``constant`` -> none (use ``-u/-r/-t``).

User classes:

- :class:`Citizen`: OTP, confirm, register 1-4 beneficiaries, search, book (409 ``APPOIN0040``:
  try another session), sometimes cancel or reschedule, later try the certificate.
- :class:`Vaccinator`: verify the next beneficiary on the site's due list, record the dose with an
  ``Idempotency-Key``; when the server fails, go on at paper pace into a local outbox and send it
  through batch sync once the server answers again (metrics: paper records, outbox depth, sync lag).
- :class:`SlotWatcher`: polls availability every few seconds, like the 2021 bots.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from locust import events, task
from locust.env import Environment

from locustfiles.drill_user import DrillUser, today
from locustfiles.lifecycle import install
from locustfiles.run_context import add_options
from locustfiles.vaccinator import Vaccinator
from vaxdrill.core.otp import drill_otp, otp_hash

__all__ = ["Citizen", "SlotWatcher", "Vaccinator"]  # the user classes Locust runs


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    add_options(parser)


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    install(environment)


class Citizen(DrillUser):
    """A person registering their family on launch day."""

    gate_name = "Citizen"

    def on_start(self) -> None:
        self.think = self.ctx.load.think_time.citizen

    @task
    def journey(self) -> None:
        self.iterate(self._journey)

    def _journey(self) -> None:
        assert self.ctx.identities is not None
        who = self.ctx.identities.next()
        plan = self.ctx.load.journey
        otp = self.api("POST", "/auth/public/generateOTP", "generateOTP", body={"mobile": who.mobile})
        if not otp.ok:
            return
        txn = otp.body["txnId"]
        self.pause()
        code = drill_otp(who.mobile, self.ctx.secrets.drill_otp, txn)
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

    def _pick_session(self, seats: int, exclude: set[str] | None = None) -> dict[str, Any] | None:
        open_ = [
            s
            for s in self.find_sessions()
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

    gate_name = "SlotWatcher"

    def on_start(self) -> None:
        self.think = self.ctx.load.journey.watcher_poll

    @task
    def poll(self) -> None:
        self.iterate(self._poll)

    def _poll(self) -> None:
        district = self.district_id()
        if district is None:
            return
        path = "findByDistrict" if self.rng.random() < 0.7 else "calendarByDistrict"
        self.api("GET", f"/appointment/sessions/public/{path}", path, params={"district_id": district, "date": today()})
