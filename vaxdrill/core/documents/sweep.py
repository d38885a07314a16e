"""``summary.json`` of ``vaxdrill sweep`` (schema ``vaxdrill.sweep/1``).

Per point of the design, and per policy, every figure of the simulation summary (a mean over the
replications with its 95% interval); the paired differences are each policy minus the first one
listed, replication by replication (common random numbers across points and policies).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from vaxdrill.core.documents.base import Document, Part
from vaxdrill.core.documents.simulation import Figures

SCHEMA = "vaxdrill.sweep/1"


class SweepParameter(Part):
    """A varied field of the scenario and the values the sweep gave it, as a planner writes them."""

    path: str = Field(description="Dotted path into the scenario, e.g. server.outages[0].end.")
    kind: Literal["duration", "clock", "share", "int", "number", "text"]
    baseline: str | None = Field(description="The value in the scenario file.")
    values: list[str]


class SweepPoint(Part):
    """One point of the design: its parameter values and every policy's figures there."""

    point: int = Field(ge=0)
    values: dict[str, str] = Field(description="Parameter path -> value at this point.")
    policies: dict[str, Figures]
    paired_differences: dict[str, Figures] = Field(description="`<policy> vs <first policy>`: the difference.")


class SweepSummary(Document):
    """A sweep: the parameters, the answer in one sentence, and the figures at every point."""

    SCHEMA: ClassVar[str] = SCHEMA

    schema_: Literal["vaxdrill.sweep/1"] = Field(alias="schema")
    scenario: str
    seed: int
    replications: int = Field(ge=1)
    sample: Literal["grid", "lhs", "sobol"]
    metric: str = Field(description="The metric the answer and the plots compare policies on.")
    answer: str
    parameters: list[SweepParameter]
    policies: list[str]
    points: list[SweepPoint]
