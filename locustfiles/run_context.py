"""What vaxdrill keeps for one run inside a Locust process: :class:`RunContext` (its fixed
:class:`RunSettings` and its state).

A context is made from the process's options by :func:`locustfiles.lifecycle.install` (called
from the locustfile's ``init`` listener) and attached to the Locust ``Environment``; users, gates
and listeners reach it with :func:`context`. Nothing here is module state: two environments have
two contexts.

Options (each also read from its environment variable): ``--scenario`` (``VAXDRILL_SCENARIO``),
``--drill-otp``, ``--drill-staff-key``, ``--admin-token`` (:mod:`vaxdrill.core.secrets`),
``--vaxdrill-out``, ``--vaxdrill-mode`` (``loadtest`` or ``capacity``), ``--vaxdrill-run``, ``--faults``
(``VAXDRILL_FAULTS``: inject the scenario's fault plan; never without it);
``VAXDRILL_DURATION`` (set by ``vaxdrill loadtest --duration``) overrides ``load.duration``;
``VAXDRILL_ADMIN_HOST`` (set when the load goes through a proxy) is the target for admin calls.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import requests
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from locustfiles.paper import Outbox
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.loadplan import LoadProfile
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.secrets import DRILL_SECRETS, ENV_VARS, DrillSecrets
from vaxdrill.core.shipped import resolve_scenario, shipped_dir
from vaxdrill.loadtest.recorder import Recorder
from vaxdrill.loadtest.target import RatePacer
from vaxdrill.loadtest.testdata import IdentityPool

if TYPE_CHECKING:
    import gevent

    from locustfiles.open_model import ArrivalGate

DEFAULT_SCENARIO = shipped_dir() / "raigad-2021-01-16.yaml"  # shipped: found from a wheel and a checkout alike
DEFAULT_HOST = "http://127.0.0.1:8000"
Mode = Literal["loadtest", "capacity"]
_ATTRIBUTE = "vaxdrill_context"  # where the context hangs on its Environment


def add_options(parser: Any) -> None:
    """Register vaxdrill's options on Locust's parser (``events.init_command_line_parser``)."""
    parser.add_argument(
        "--scenario", env_var="VAXDRILL_SCENARIO", default=str(DEFAULT_SCENARIO), help="vaxdrill scenario"
    )
    parser.add_argument(
        "--drill-otp", env_var=ENV_VARS["drill_otp"], default=DRILL_SECRETS.drill_otp, help="server's drill OTP secret"
    )
    parser.add_argument(
        "--drill-staff-key", env_var=ENV_VARS["drill_staff_key"], default=DRILL_SECRETS.drill_staff_key, is_secret=True
    )
    parser.add_argument(
        "--admin-token", env_var=ENV_VARS["admin_token"], default=DRILL_SECRETS.admin_token, is_secret=True
    )
    parser.add_argument("--vaxdrill-out", env_var="VAXDRILL_OUT", default="", help="folder for drill-raw.json")
    parser.add_argument(
        "--vaxdrill-mode", env_var="VAXDRILL_MODE", default="loadtest", choices=["loadtest", "capacity"]
    )
    parser.add_argument("--vaxdrill-run", env_var="VAXDRILL_RUN", default="", include_in_web_ui=False)
    parser.add_argument(
        "--faults", env_var="VAXDRILL_FAULTS", action="store_true", default=False,
        help="inject the scenario's fault plan (needs a target with the fault API)",
    )  # fmt: skip
    # Set by a master, never by hand: its settings, which reach each worker inside Locust's spawn message.
    parser.add_argument("--vaxdrill-settings", default="", include_in_web_ui=False, help=argparse.SUPPRESS)


@dataclass(frozen=True)
class RunSettings:
    """What the run was told, fixed at install: scenario, load plan, secrets, mode, output folder."""

    scenario: Scenario
    load: LoadProfile  # the scenario's, with ``VAXDRILL_DURATION`` applied
    secrets: DrillSecrets = DRILL_SECRETS
    mode: Mode = "loadtest"
    out: Path | None = None  # where drill-raw.json goes; None: not written
    run: str = "run"  # the run's name: identities and idempotency keys never repeat across runs
    faults: bool = False  # inject the scenario's fault plan (`--faults`; vaxdrill loadtest sets it)
    shape_from_cli: bool = False  # Locust's -u/-t were given: they shape the run, not the scenario
    admin_host: str | None = None  # the target itself when the load goes through a proxy (VAXDRILL_ADMIN_HOST)

    @classmethod
    def from_options(cls, options: argparse.Namespace | None, environ: Mapping[str, str]) -> RunSettings:
        """Settings from Locust's parsed options (``None`` when Locust runs as a library: defaults).

        ``environ`` supplies ``VAXDRILL_DURATION`` (and ``VAXDRILL_SCENARIO`` without options); everything
        else comes through the options, which Locust fills from the command line or the variables.
        """

        def option(name: str, default: str) -> str:
            value = getattr(options, name, None) if options is not None else None
            return str(value) if value else default

        # A file (against Locust's folder) or a shipped scenario's name, as on vaxdrill's command line.
        given = option("scenario", environ.get("VAXDRILL_SCENARIO", str(DEFAULT_SCENARIO)))
        scenario = load_scenario(resolve_scenario(given))
        load = scenario.load or LoadProfile()
        duration = environ.get("VAXDRILL_DURATION")  # `vaxdrill loadtest --duration` (seconds)
        if duration:
            load = load.model_copy(update={"duration": float(duration)})
        mode = option("vaxdrill_mode", "loadtest")
        out = option("vaxdrill_out", "")
        return cls(
            scenario=scenario,
            load=load,
            secrets=DrillSecrets(
                drill_otp=option("drill_otp", DRILL_SECRETS.drill_otp),
                drill_staff_key=option("drill_staff_key", DRILL_SECRETS.drill_staff_key),
                admin_token=option("admin_token", DRILL_SECRETS.admin_token),
            ),
            mode="capacity" if mode == "capacity" else "loadtest",
            out=Path(out) if out else None,
            run=option("vaxdrill_run", f"r{int(time.time()) % 1_000_000}"),
            faults=bool(getattr(options, "faults", False)),
            shape_from_cli=getattr(options, "num_users", None) is not None or bool(getattr(options, "run_time", None)),
            admin_host=environ.get("VAXDRILL_ADMIN_HOST") or None,
        )

    def for_workers(self) -> str:
        """What a worker takes from its master, as JSON: the scenario (sites resolved), the load as run
        (``--duration`` applied), the mode and the run's name. See :mod:`locustfiles.workers`."""
        scenario = self.scenario.model_dump(mode="json")
        scenario["sites_csv"], scenario["site_defaults"] = None, {}  # already resolved into `sites`
        data = {"scenario": scenario, "load": self.load.model_dump(mode="json"), "mode": self.mode, "run": self.run}
        return json.dumps(data, separators=(",", ":"))

    def from_master(self, text: str, secrets: DrillSecrets) -> RunSettings:
        """These settings with the master's (:meth:`for_workers`) and its ``secrets``; the output folder stays."""
        data = json.loads(text)
        return replace(
            self,
            scenario=Scenario.model_validate(data["scenario"]),
            load=LoadProfile.model_validate(data["load"]),
            secrets=secrets,
            mode="capacity" if data.get("mode") == "capacity" else "loadtest",
            run=str(data.get("run") or self.run),
        )


@dataclass
class RunContext:
    """One run in one Locust process (standalone, master or worker): its settings and its state."""

    settings: RunSettings
    environment: Environment | None = None
    # Where this process stands among the run's processes (a worker learns it at test start).
    node: str = "local"
    slot: int = 0
    workers: int = 1
    # Recording.
    recorder: Recorder = field(default_factory=Recorder)
    recent: Recorder = field(default_factory=Recorder)  # since the last SLO check (abort on breach)
    step: Recorder | None = None  # capacity: the current step, warm-up excluded
    watching: bool = False  # the SLO watcher (abort_after_breach) reads `recent`
    # The users' shared state in this process.
    identities: IdentityPool | None = None
    gates: dict[str, ArrivalGate] = field(default_factory=dict)
    target_rate: float = 0.0  # capacity: the search's current rate (all user classes together)
    district_id: int | None = None  # the scenario's district, looked up once
    staff_sessions: list[dict[str, Any]] | None = None  # today's sessions, looked up once for vaccinators
    due_lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per session id
    claimed: set[str] = field(default_factory=set)  # beneficiaries a vaccinator here has taken
    outboxes: list[Outbox] = field(default_factory=list)
    busy_vaccinators: int = 0
    ledger: list[dict[str, Any]] = field(default_factory=list)
    user_weights: dict[str, int] | None = None  # a plain locustfile's classes (None: the built-in pack's mix)
    user_numbers: int = 0
    # The run's course and end.
    t_start: float = 0.0
    draining: bool = False
    aborted: bool = False
    breached: list[str] = field(default_factory=list)
    could_not_run: str | None = None  # why the run stopped with exit 3 (every request failing)
    capacity_done: bool = False
    capacity: dict[str, Any] | None = None
    faults_applied: list[dict[str, Any]] = field(default_factory=list)
    pacer: RatePacer | None = None  # this process's share of `load.max_rps`
    # Workers: the master's view of who joined and who was lost; a worker's record of what it sent.
    workers_seen: dict[str, float] = field(default_factory=dict)  # node -> when it joined
    workers_lost: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> when and why
    sent: Recorder | None = None
    tails: set[str] = field(default_factory=set)  # workers whose last figures reached the master
    finals: dict[str, dict[str, Any]] = field(default_factory=dict)
    open_accounts: dict[str, dict[str, float]] = field(default_factory=dict)
    greenlets: list[gevent.Greenlet] = field(default_factory=list)

    @classmethod
    def from_options(cls, options: argparse.Namespace | None, environ: Mapping[str, str]) -> RunContext:
        """A fresh context with :meth:`RunSettings.from_options`."""
        return cls(RunSettings.from_options(options, environ))

    @property
    def scenario(self) -> Scenario:
        return self.settings.scenario

    @property
    def load(self) -> LoadProfile:
        return self.settings.load

    @property
    def secrets(self) -> DrillSecrets:
        return self.settings.secrets

    @property
    def mode(self) -> Mode:
        return self.settings.mode

    @property
    def out(self) -> Path | None:
        return self.settings.out

    @property
    def run(self) -> str:
        return self.settings.run

    # recording helpers used by users and gates
    def count(self, name: str, amount: float = 1.0) -> None:
        self.recorder.count(name, amount)

    def observe(self, name: str, ms: float) -> None:
        self.recorder.observe(name, ms)
        if self.watching:
            self.recent.observe(name, ms)
        if self.step is not None:
            self.step.observe(name, ms)

    def request(self, name: str, response_time: float, failed: bool, now: float) -> None:
        """One request as Locust reported it, into every recorder that is listening."""
        self.recorder.request(name, response_time, failed, now)
        if self.watching:
            self.recent.request(name, response_time, failed, now)
        if self.step is not None:
            self.step.request(name, response_time, failed, now)

    def worker_delta(self) -> dict[str, Any]:
        """A worker: what it recorded since its last report, for the master; kept in :attr:`sent` too."""
        delta = self.recorder.take_delta()
        if self.sent is None:
            self.sent = Recorder(t0=self.recorder.t0)
        self.sent.merge_delta(delta)
        return delta

    def rng(self, *key: int) -> np.random.Generator:
        """A seeded stream for (worker slot, key...): same seed, same draws."""
        return np.random.default_rng(np.random.SeedSequence(self.scenario.seed, spawn_key=(self.slot, *key)))

    def mix_weights(self) -> dict[str, int]:
        """The share of each user class, by its ``gate_name``: the scenario's mix for the built-in pack,
        the classes' own ``weight`` for a plain locustfile."""
        if self.user_weights is not None:
            return dict(self.user_weights)
        mix = self.load.mix
        return {"Citizen": mix.citizen, "Vaccinator": mix.vaccinator, "SlotWatcher": mix.slot_watcher}

    def admin_session(self) -> requests.Session:
        """A session carrying the admin token (faults, integrity check)."""
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.secrets.admin_token}"
        return session

    def next_user_number(self) -> int:
        self.user_numbers += 1
        return self.user_numbers

    @property
    def is_master(self) -> bool:
        return isinstance(self.environment.runner if self.environment else None, MasterRunner)

    @property
    def is_worker(self) -> bool:
        return isinstance(self.environment.runner if self.environment else None, WorkerRunner)

    @property
    def host(self) -> str:
        env = self.environment
        return (env.host if env is not None and env.host else DEFAULT_HOST).rstrip("/")

    @property
    def admin_host(self) -> str:
        """Where the drill's own admin calls go (faults, integrity check): past the proxy of network faults."""
        return (self.settings.admin_host or self.host).rstrip("/")


def attach(environment: Environment, ctx: RunContext) -> None:
    """Hang ``ctx`` on ``environment`` (one context per environment)."""
    if isinstance(getattr(environment, _ATTRIBUTE, None), RunContext):
        raise RuntimeError("vaxdrill: this Locust environment already has a run context")
    ctx.environment = environment
    setattr(environment, _ATTRIBUTE, ctx)


def context(environment: Environment) -> RunContext:
    """The run context of ``environment``; raises if the locustfile's ``init`` did not install one."""
    ctx = getattr(environment, _ATTRIBUTE, None)
    if not isinstance(ctx, RunContext):
        raise RuntimeError("vaxdrill: no run context on this Locust environment (install() not called)")
    return ctx
