"""The base of vaxdrill's Locust users: seeded draws, retry budget, think times, open-model iterations."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import gevent
import numpy as np
from locust import FastHttpUser

from locustfiles.api_call import Answer, call
from locustfiles.extensions import preflight
from locustfiles.open_model import pace_requests
from locustfiles.run_context import RunContext, context
from vaxdrill.core.scenario.distributions import Distribution
from vaxdrill.loadtest.retry import RetryBudget


def today() -> str:
    return dt.date.today().strftime("%d-%m-%Y")


class DrillUser(FastHttpUser):
    """Common parts: seeded random stream, retry budget, think times, open-model iterations."""

    abstract = True
    think: Distribution
    gate_name = ""  # the scenario's mix and the open model's gates know the class by this name

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.ctx: RunContext = context(environment)
        ctx = self.ctx
        self.number = ctx.next_user_number()
        self.rng: np.random.Generator = ctx.rng(self.number)
        self.budget = RetryBudget(ratio=ctx.load.retry.budget)
        self.network_timeout = ctx.load.request_timeout
        self.connection_timeout = min(ctx.load.request_timeout, 5.0)
        pace_requests(self.client, ctx)

    def wait_time(self) -> float:
        if self.gate_name in self.ctx.gates:
            return 0.0  # the open model's gate sets the pace
        return float(self.think.sample(self.rng, 1)[0])

    def api(self, method: str, path: str, name: str, **kw: Any) -> Answer:
        return call(self.client, method, path, name, policy=self.ctx.load.retry, budget=self.budget, rng=self.rng, **kw)

    @preflight
    def api_check(self) -> None:
        """Pre-flight: the registration API answers its list of states (no retries)."""
        ans = self.api("GET", "/admin/location/states", "states", retry=False)
        if not ans.ok or not isinstance(ans.body, dict) or "states" not in ans.body:
            raise RuntimeError(f"GET /api/v2/admin/location/states answered HTTP {ans.status}, not a list of states")

    def pause(self, dist: Distribution | None = None) -> None:
        gevent.sleep(float((dist or self.think).sample(self.rng, 1)[0]))

    def iterate(self, journey: Any) -> None:
        gate = self.ctx.gates.get(self.gate_name)
        if gate is None:
            if not self.ctx.draining:
                self.ctx.count("iterations")
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

    def district_id(self) -> int | None:
        """The scenario's district, looked up once per process (states, then districts)."""
        if self.ctx.district_id is not None:
            return self.ctx.district_id
        states = self.api("GET", "/admin/location/states", "states")
        for state in (states.body or {}).get("states", []) if states.ok else []:
            districts = self.api("GET", f"/admin/location/districts/{state['state_id']}", "districts")
            if districts.ok and districts.body.get("districts"):
                self.ctx.district_id = int(districts.body["districts"][0]["district_id"])
                return self.ctx.district_id
        return None

    def find_sessions(self) -> list[dict[str, Any]]:
        """Today's sessions in the scenario's district (``findByDistrict``), or [] when unavailable."""
        district = self.district_id()
        if district is None:
            return []
        ans = self.api(
            "GET",
            "/appointment/sessions/public/findByDistrict",
            "findByDistrict",
            params={"district_id": district, "date": today()},
        )
        return list((ans.body or {}).get("sessions", [])) if ans.ok else []
