"""``capacity.json`` of ``vaxdrill capacity`` (schema ``vaxdrill.capacity/1``).

Rates are journeys started per second (the open model's arrival rate); latencies in milliseconds.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from vaxdrill.core.documents.base import Document, Part

SCHEMA = "vaxdrill.capacity/1"


class LittleCheck(Part):
    """Little's law on one step: mean concurrency against throughput x mean response time."""

    observed_n: float
    x_times_r: float | None  # None: a step with no response time measured (NaN when written)
    rel_error: float | None
    ok: bool


class CapacityStep(Part):
    """One held arrival rate, warm-up left out."""

    rate: float  # journeys/s offered
    throughput: float  # journeys/s completed
    concurrency: float  # journeys in flight
    mean_ms: float | None  # mean journey time
    p95_ms: float | None  # p95 of the requests
    error_rate: float
    requests_per_s: float = 0.0  # requests/s answered, beside the journeys
    hold_s: float = 0.0
    dropped: int
    late: int
    slo_passed: bool
    breached: list[str]
    phase: Literal["ladder", "bisection"]
    sustainable: bool
    little: LittleCheck


class UslFit(Part):
    """Universal Scalability Law fit; ``peak_n`` is ``None`` when kappa is zero."""

    lam: float
    sigma: float
    kappa: float
    peak_n: float | None
    peak_x: float | None
    r2: float
    peak_x_interval: list[float] | None = None  # 95% bootstrap interval of peak_x (journeys/s)


class CapacityResult(Document):
    """The highest sustainable rate, the first breach, each step, and the USL fit."""

    SCHEMA: ClassVar[str] = SCHEMA

    schema_: Literal["vaxdrill.capacity/1"] = Field(alias="schema")
    scenario: str
    host: str
    max_sustainable_rate: float | None
    concurrency_at_max: float | None
    first_breach_rate: float | None
    step_duration_s: float
    warmup_s: float
    steps: list[CapacityStep]
    usl: UslFit | None
    little_ok: bool
    description: str
