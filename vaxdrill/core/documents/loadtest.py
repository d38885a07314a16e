"""``summary.json`` of ``vaxdrill loadtest`` (schema ``vaxdrill.loadtest/1``).

Latencies in milliseconds, rates per second, error rates as shares. ``None`` where a figure has
no requests behind it (a percentile of nothing).
"""

from __future__ import annotations

from typing import ClassVar, Literal

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
    """One planned fault: when it was applied, the figures around it, how long recovery took."""

    kind: str
    planned_at_s: float
    applied_at_s: float
    duration_s: float
    routes: list[str]
    mode: str | None
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
    integrity: Integrity | None
    open_model: OpenModel | None
    vaccinators: Vaccinators
    generator: Generator
    aborted: bool
    breached: list[str]
    exit_code: int
    locust_exit_code: int | None = Field(default=None, description="What the Locust process exited with.")
