"""``summary.json`` of ``vaxdrill loadtest`` (schema ``vaxdrill.loadtest/1``).

Latencies in milliseconds, rates per second, error rates as shares. ``None`` where a figure has
no requests behind it (a percentile of nothing).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from vaxdrill.core.documents.base import Document, Part

SCHEMA = "vaxdrill.loadtest/1"


class EndpointFigures(Part):
    """Requests, failures and latency percentiles of one endpoint (or of all requests)."""

    requests: int
    failures: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    mean: float | None


class SloResult(Part):
    """One SLO judged: its limit, what was observed, whether it passed."""

    name: str
    metric: str
    limit: float
    observed: float | None
    passed: bool
    unit: str


class FaultWindow(Part):
    """Requests before, during or after a fault."""

    requests: int
    failures: int
    error_rate: float | None
    p95_ms: float | None
    rps: float | None


class FaultReport(Part):
    """One planned fault: when it was applied, the figures around it, how long recovery took.

    A network fault (``kind`` network) names its ``toxic`` (or ``down``) and lasted ``duration_s`` from the
    moment the toxic was added to the moment it was removed.
    """

    kind: str
    planned_at_s: float
    applied_at_s: float
    duration_s: float
    routes: list[str]
    mode: str | None
    toxic: str | None = Field(default=None, description="Network fault: the Toxiproxy toxic type, or down.")
    stream: str | None = Field(default=None, description="Network fault: downstream or upstream.")
    toxicity: float | None = Field(default=None, description="Network fault: share of connections affected.")
    attributes: dict[str, int] | None = Field(default=None, description="Network fault: the toxic's attributes.")
    applied: bool
    error: str | None
    before: FaultWindow
    during: FaultWindow
    after: FaultWindow
    time_to_recover_s: float | None


class IntegrityExamples(Part):
    """Up to five references of each kind of problem."""

    lost: list[str]
    duplicated: list[str]
    overbooked: list[str]


class Integrity(Part):
    """Every dose the vaccinators recorded against what the server holds."""

    passed: bool
    doses_recorded: int
    online: int
    paper: int
    server_vaccinations: int
    lost: int
    duplicated: int
    given_twice_by_drill: int
    unsynced_at_end: int
    overbooked_sessions: int
    examples: IntegrityExamples


class VerifiedIntegrity(Part):
    """A plain locustfile's integrity check: its verifiers (``vaxdrill.locust.verifier``) on its ledger."""

    passed: bool
    verifier: str = Field(description="The verifiers' names.")
    entries: int = Field(description="Ledger entries gathered from every process.")
    details: dict[str, dict[str, Any]] = Field(description="Each verifier's own verdict.")


class OpenModelAccount(Part):
    """Arrivals scheduled, started, late and dropped (a user class's, or all of them)."""

    scheduled: int
    started: int
    late: int
    dropped: int
    start_delay_max_s: float | None = None


class OpenModel(Part):
    """What the open model promised and delivered (coordinated omission)."""

    scheduled: int
    started: int
    late: int
    dropped: int
    by_user_class: dict[str, OpenModelAccount]
    start_delay_p99_ms: float | None
    coordinated_omission_note: str


class Vaccinators(Part):
    """Records taken online and on paper, and how the paper backlog synced."""

    online_records: int
    paper_records: int
    synced_records: int
    in_flight_waits: int = 0  # waits on 409 IDEMPOTENCY_IN_FLIGHT (Retry-After honoured)
    refused_records: int = 0  # doses given whose record the server refused (kept in the ledger)
    outbox_depth_max: float
    sync_lag_p95_ms: float | None
    sync_lag_max_ms: float | None


class Generator(Part):
    """The load generator's own health: a saturated generator understates latency."""

    cpu_saturated: bool
    saturated_processes: list[str]
    cpu_peak_percent: dict[str, float]
    workers: int
    worker_nodes: list[str]


class WorkerLoss(Part):
    """A worker lost mid-run: when (seconds after the start) and why."""

    node: str
    at_s: float
    reason: str = Field(description="no heartbeat, left before the end, or no final report")


class Workers(Part):
    """The workers of a distributed run as the master saw them."""

    expected: int = Field(description="Workers the master waited for (--expect-workers, --workers).")
    seen: list[str] = Field(description="Every worker that joined.")
    lost: list[WorkerLoss] = Field(description="Workers lost mid-run; their last seconds of figures are missing.")


class LoadTestSummary(Document):
    """A load test's figures, SLO verdicts, faults, integrity check and exit code."""

    SCHEMA: ClassVar[str] = SCHEMA

    schema_: Literal["vaxdrill.loadtest/1"] = Field(alias="schema")
    scenario: str
    mode: str
    shape: str | None
    model: Literal["open", "closed"]
    host: str | None
    duration_s: float
    requests: int
    failures: int
    error_rate: float | None
    rps: float | None
    latency_ms: EndpointFigures
    endpoints: dict[str, EndpointFigures]
    slos: list[SloResult]
    faults: list[FaultReport]
    integrity: Integrity | VerifiedIntegrity | None = Field(description="None: not checked (no verifier).")
    open_model: OpenModel | None
    vaccinators: Vaccinators
    generator: Generator
    aborted: bool
    breached: list[str]
    exit_code: int
    locust_exit_code: int | None = Field(default=None, description="What the Locust process exited with.")
    metrics: dict[str, EndpointFigures] = Field(
        default_factory=dict, description="Histograms besides requests: the machinery's and a locustfile's own (ms)."
    )
    counters: dict[str, float] = Field(default_factory=dict, description="The machinery's and a locustfile's counters.")
    could_not_run: str | None = Field(default=None, description="Why the run stopped with exit 3.")
    workers: Workers | None = Field(default=None, description="A distributed run's workers (none: one process).")
    incomplete: bool = Field(
        default=False, description="A worker was lost mid-run: figures are missing (exit 3 unless --allow-worker-loss)."
    )
