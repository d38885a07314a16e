"""``server_profile.json`` of ``vaxdrill profile`` (schema ``vaxdrill.server_profile/1``).

What a measured server does to a transaction at each offered load: one point per load bin (a load
test) or per held step (a capacity search), sorted by offered load. A point without p50 and p95
(a capacity step with no timeline) is kept in the document; the simulation refuses to use such a
profile (:func:`vaxdrill.core.profile.parse_profile`).
"""

from __future__ import annotations

import itertools
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from vaxdrill.core.documents.base import Document, Part

SCHEMA = "vaxdrill.server_profile/1"


class Point(Part):
    """Behaviour at one offered load. Rates in requests per second, latencies in milliseconds."""

    offered_rps: float = Field(ge=0)
    throughput_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    failure_rate: float = Field(ge=0.0, le=1.0)
    requests: int

    @model_validator(mode="after")
    def _ordered_percentiles(self) -> Point:
        if self.p50_ms is not None and self.p50_ms <= 0:
            raise ValueError("needs 0 < p50_ms")
        if self.p50_ms is not None and self.p95_ms is not None and self.p50_ms > self.p95_ms:
            raise ValueError("needs p50_ms <= p95_ms")
        return self


class DayLoad(Part):
    """The measured request rate at a clock time of the launch day (the load test's compressed day)."""

    clock: str = Field(pattern=r"^\d{1,2}:\d{2}(:\d{2})?$")
    rps: float = Field(ge=0)


class ServerProfileDocument(Document):
    """Points sorted by offered load, the knee (highest load meeting the SLOs), the day's load."""

    SCHEMA: ClassVar[str] = SCHEMA

    schema_: Literal["vaxdrill.server_profile/1"] = Field(alias="schema")
    # A profile may be written by hand: only the points are required.
    source: str = Field(default="", description="The run folder the profile was derived from.")
    kind: Literal["loadtest", "capacity"] | None = None
    points: list[Point] = Field(min_length=1)
    knee_rps: float | None = Field(default=None, description="Highest offered load meeting the SLOs.")
    day_load: list[DayLoad] | None = None
    excluded_fault_windows_s: list[tuple[float, float]] | None = Field(
        default=None, description="Load test: fault windows (recovery included) left out, in load-test seconds."
    )
    window_s: float | None = Field(default=None, description="Load test: the timeline's window length.")
    offered_unit: Literal["requests/s", "journeys/s"] | None = Field(
        default=None, description="Capacity: journeys/s when the run had no timeline to convert rates."
    )
    requests_per_journey: float | None = None

    @model_validator(mode="after")
    def _sorted_points(self) -> ServerProfileDocument:
        if any(b.offered_rps < a.offered_rps for a, b in itertools.pairwise(self.points)):
            raise ValueError("`points` must be sorted by offered_rps")
        return self
