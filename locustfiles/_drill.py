"""vaxdrill's machinery inside a Locust process: configuration, recording, merging, the drain.

Every Locust process (standalone, master or worker) holds one :data:`STATE`:

- each request is recorded at full precision in a :class:`~vaxdrill.loadtest.recorder.Recorder`;
- a worker sends its deltas to the master with ``report_to_master``; the master merges them;
- at the end (``test_stopping``) the vaccinators' outboxes are drained through batch sync and
  their ledgers are collected (workers answer the master's ``vaxdrill_drain`` message with
  ``vaxdrill_final``), so the integrity check sees every dose;
- the master (or standalone process) applies the fault plan, watches SLOs for a sustained breach,
  and at ``quitting`` prints the SLO table, checks integrity, writes ``drill-raw.json`` when an
  output folder is set, and sets Locust's exit code (99 SLO failed, 98 integrity, 97 aborted).

Configuration comes from Locust options (or environment variables): ``--scenario``
(``VAXDRILL_SCENARIO``), ``--drill-otp``, ``--staff-secret``, ``--admin-token``, ``--vaxdrill-out``,
``--vaxdrill-mode`` (``loadtest`` or ``capacity``).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import numpy as np
import psutil
import requests
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.loadplan import LoadProfile
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.loadtest import slo as slo_mod
from vaxdrill.loadtest.recorder import Recorder
from vaxdrill.loadtest.testdata import IdentityPool

log = logging.getLogger("vaxdrill")

DEFAULT_SCENARIO = str(Path(__file__).resolve().parent.parent / "scenarios" / "raigad-2021-01-16.yaml")
# Drill defaults match `vaxdrill serve`'s documented drill defaults (README).
DEFAULT_OTP = "drill-otp"
DEFAULT_STAFF = "drill-staff"
DEFAULT_ADMIN = "drill-admin"
DRAIN_WAIT_S = 30.0
SLO_CHECK_S = 2.0


@dataclass
class State:
    """Everything vaxdrill keeps in one Locust process."""

    scenario: Scenario | None = None
    load: LoadProfile = field(default_factory=LoadProfile)
    mode: str = "loadtest"
    drill_otp: str = DEFAULT_OTP
    staff_secret: str = DEFAULT_STAFF
    admin_token: str = DEFAULT_ADMIN
    out: Path | None = None
    run: str = "run"
    env: Environment | None = None
    recorder: Recorder = field(default_factory=Recorder)
    recent: Recorder = field(default_factory=Recorder)  # since the last SLO check (abort on breach)
    step: Recorder | None = None  # capacity: the current step, warm-up excluded
    node: str = "local"
    slot: int = 0
    workers: int = 1
    identities: IdentityPool | None = None
    gates: dict[str, Any] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    outboxes: list[Any] = field(default_factory=list)
    busy_vaccinators: int = 0
    claimed: set[str] = field(default_factory=set)
    cache: dict[str, Any] = field(default_factory=dict)
    draining: bool = False
    watching: bool = False  # the SLO watcher (abort_after_breach) reads `recent`
    aborted: bool = False
    breached: list[str] = field(default_factory=list)
    capacity_done: bool = False
    capacity: Any = None
    faults_applied: list[dict[str, Any]] = field(default_factory=list)
    finals: dict[str, dict[str, Any]] = field(default_factory=dict)
    open_accounts: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    t_start: float = 0.0
    greenlets: list[gevent.Greenlet] = field(default_factory=list)
    user_numbers: int = 0

    # recording helpers used by users and gates
    def count(self, name: str, amount: float = 1.0) -> None:
        self.recorder.count(name, amount)

    def observe(self, name: str, ms: float) -> None:
        self.recorder.observe(name, ms)
        if self.watching:
            self.recent.observe(name, ms)
        if self.step is not None:
            self.step.observe(name, ms)

    def rng(self, *key: int) -> np.random.Generator:
        """A seeded stream for (worker slot, key...): same seed, same draws."""
        seed = self.scenario.seed if self.scenario else 1
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(self.slot, *key)))

    def next_user_number(self) -> int:
        self.user_numbers += 1
        return self.user_numbers

    @property
    def is_master(self) -> bool:
        return isinstance(self.env.runner if self.env else None, MasterRunner)

    @property
    def is_worker(self) -> bool:
        return isinstance(self.env.runner if self.env else None, WorkerRunner)

    @property
    def host(self) -> str:
        return (self.env.host if self.env and self.env.host else "http://127.0.0.1:8000").rstrip("/")


STATE = State()


def _scenario_path() -> str:
    return os.environ.get("VAXDRILL_SCENARIO", DEFAULT_SCENARIO)


def early_load() -> Scenario:
    """The scenario at import time (to pick the shape class); options may override it in ``init``."""
    path = _scenario_path()
    for i, arg in enumerate(sys.argv):
        if arg == "--scenario" and i + 1 < len(sys.argv):
            path = sys.argv[i + 1]
        elif arg.startswith("--scenario="):
            path = arg.split("=", 1)[1]
    scenario = load_scenario(Path(path))
    _configure(scenario)
    return scenario


def _configure(scenario: Scenario) -> None:
    STATE.scenario = scenario
    load = scenario.load or LoadProfile()
    duration = os.environ.get("VAXDRILL_DURATION")  # `vaxdrill loadtest --duration` (seconds)
    if duration:
        load = load.model_copy(update={"duration": float(duration)})
    STATE.load = load


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--scenario", env_var="VAXDRILL_SCENARIO", default=DEFAULT_SCENARIO, help="vaxdrill scenario")
    parser.add_argument(
        "--drill-otp", env_var="VAXDRILL_DRILL_OTP", default=DEFAULT_OTP, help="server's drill OTP secret"
    )
    parser.add_argument("--staff-secret", env_var="VAXDRILL_STAFF_SECRET", default=DEFAULT_STAFF, is_secret=True)
    parser.add_argument("--admin-token", env_var="VAXDRILL_ADMIN_TOKEN", default=DEFAULT_ADMIN, is_secret=True)
    parser.add_argument("--vaxdrill-out", env_var="VAXDRILL_OUT", default="", help="folder for drill-raw.json")
    parser.add_argument(
        "--vaxdrill-mode", env_var="VAXDRILL_MODE", default="loadtest", choices=["loadtest", "capacity"]
    )
    parser.add_argument("--vaxdrill-run", env_var="VAXDRILL_RUN", default="", include_in_web_ui=False)


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    STATE.env = environment
    opts = environment.parsed_options
    if opts is not None:
        if getattr(opts, "scenario", None) and str(Path(opts.scenario)) != _scenario_path():
            _configure(load_scenario(Path(opts.scenario)))
        STATE.drill_otp = opts.drill_otp
        STATE.staff_secret = opts.staff_secret
        STATE.admin_token = opts.admin_token
        STATE.out = Path(opts.vaxdrill_out) if opts.vaxdrill_out else None
        STATE.mode = opts.vaxdrill_mode
        STATE.run = opts.vaxdrill_run or f"r{int(time.time()) % 1_000_000}"
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        STATE.node = "master"
        runner.register_message("vaxdrill_final", _finish.on_final)
    elif isinstance(runner, WorkerRunner):
        STATE.node = runner.client_id
        runner.register_message("vaxdrill_drain", _finish.on_drain, concurrent=True)


@events.request.add_listener
def _on_request(name: str, response_time: float, exception: Any, **_: Any) -> None:
    failed, now = exception is not None, time.time()
    STATE.recorder.request(name, response_time, failed, now)
    if STATE.watching:
        STATE.recent.request(name, response_time, failed, now)
    if STATE.step is not None:
        STATE.step.request(name, response_time, failed, now)


@events.report_to_master.add_listener
def _report(client_id: str, data: dict[str, Any]) -> None:
    data["vaxdrill"] = STATE.recorder.take_delta()


@events.worker_report.add_listener
def _merge(client_id: str, data: dict[str, Any]) -> None:
    delta = data.get("vaxdrill")
    if delta:
        STATE.recorder.merge_delta(delta)
        if STATE.watching:
            STATE.recent.merge_delta(delta)


@events.test_start.add_listener
def _start(environment: Environment, **_: Any) -> None:
    STATE.t_start = time.time()
    STATE.recorder = Recorder(t0=STATE.t_start)
    STATE.recent = Recorder(t0=STATE.t_start)
    STATE.draining = STATE.aborted = STATE.capacity_done = False
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        # The master's options (expect_workers among them) reach a worker with its spawn message,
        # i.e. just before this event, not at init: the worker's share of the load is known only now.
        STATE.slot = runner.worker_index
        STATE.workers = max(int(getattr(environment.parsed_options, "expect_workers", 1) or 1), 1)
    STATE.identities = IdentityPool(STATE.slot, STATE.run)
    STATE.greenlets.append(gevent.spawn(_sampler))
    if not isinstance(runner, MasterRunner):
        _start_gates()
    if not isinstance(runner, WorkerRunner):
        STATE.greenlets.append(gevent.spawn(_apply_faults))
        if STATE.load.abort_after_breach and STATE.scenario and STATE.scenario.slos:
            STATE.watching = True
            STATE.greenlets.append(gevent.spawn(_watch_slos))
        if STATE.mode == "capacity":
            from locustfiles._capacity import run_search

            STATE.greenlets.append(gevent.spawn(run_search))


def _start_gates() -> None:
    """Open model: one arrival gate per user class, each with its share of the rate."""
    if STATE.load.shape not in ("open", "steps") and STATE.mode != "capacity":
        return
    from locustfiles._openmodel import ArrivalGate
    from vaxdrill.loadtest.shapes import rate_function

    mix = STATE.load.mix
    weights = {"Citizen": mix.citizen, "Vaccinator": mix.vaccinator, "SlotWatcher": mix.slot_watcher}
    total = sum(weights.values()) or 1
    base = rate_function(STATE.load)
    for k, (name, w) in enumerate(weights.items()):
        if w == 0:
            continue
        share = w / total / STATE.workers

        def rate(t: float, share: float = share) -> float:
            if STATE.mode == "capacity":
                return float(STATE.cache.get("target_rate", 0.0)) * share
            return base(t) * share

        STATE.gates[name] = ArrivalGate(name, rate, STATE.rng(1000 + k))


def _sampler() -> None:
    """Once a second: outbox depth, users, this process's CPU (generator saturation)."""
    proc = psutil.Process()
    proc.cpu_percent(None)
    while True:
        gevent.sleep(1.0)
        rec = STATE.recorder
        rec.gauge("outbox_depth", STATE.node, float(sum(len(o) for o in STATE.outboxes)))
        rec.gauge("cpu_percent", STATE.node, proc.cpu_percent(None))
        if STATE.env and STATE.env.runner and not STATE.is_worker:
            rec.gauge("users", "all", float(STATE.env.runner.user_count))


def admin_session() -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {STATE.admin_token}"
    return session


def _apply_faults() -> None:
    """Post each planned fault to the admin API at its moment (``at`` seconds after the start)."""
    faults = STATE.scenario.faults if STATE.scenario else []
    session = admin_session()
    for fault in sorted(faults, key=lambda f: f.at):
        wait = STATE.t_start + fault.at - time.time()
        if wait > 0:
            gevent.sleep(wait)
        if STATE.draining:
            break
        body = fault.model_dump(mode="json")
        body["at"] = "0s"
        info: dict[str, Any] = {"kind": fault.kind, "applied_at_s": round(time.time() - STATE.t_start, 3)}
        try:
            resp = session.post(f"{STATE.host}/api/v2/admin/faults", json=body, timeout=5)
            info["ok"] = resp.status_code < 300
            info["answer"] = resp.json() if resp.ok else None
            if not resp.ok:
                info["error"] = f"HTTP {resp.status_code}: {resp.text[:200]}"
        except (requests.RequestException, ValueError) as exc:
            info["ok"], info["error"] = False, str(exc)
        log.info("fault %s applied at %.1fs: %s", fault.kind, info["applied_at_s"], info.get("error") or "ok")
        STATE.faults_applied.append(info)


def _watch_slos() -> None:
    """Abort after an SLO breach lasting ``abort_after_breach`` (checked every few seconds)."""
    assert STATE.scenario is not None and STATE.load.abort_after_breach
    tracker = slo_mod.BreachTracker(STATE.load.abort_after_breach)
    slos = [s for s in STATE.scenario.slos if s.min_rps is None]  # throughput is judged on the whole run
    while not STATE.draining:
        gevent.sleep(SLO_CHECK_S)
        recent, STATE.recent = STATE.recent, Recorder(t0=STATE.t_start)
        results = slo_mod.evaluate(slos, recent, SLO_CHECK_S)
        if tracker.update(time.time(), results):
            STATE.aborted, STATE.breached = True, tracker.breached()
            log.error("vaxdrill: SLO breached for %ss (%s); aborting", STATE.load.abort_after_breach, STATE.breached)
            if STATE.env and STATE.env.runner:
                gevent.spawn(STATE.env.runner.quit)
            return


from locustfiles import _finish  # noqa: E402  (registers the end-of-run listeners; it imports STATE)
