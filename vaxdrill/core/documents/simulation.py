"""``summary.json`` of ``vaxdrill simulate`` (schema ``vaxdrill.simulation/1``).

Every figure is a mean over the replications with its 95% interval; figures nest by name
(``policies.wait.blocked_minutes.recording``, ``policies.wait.sites.<site>.vaccinated``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field
from typing_extensions import TypeAliasType

from vaxdrill.core.documents.base import Document, Part

SCHEMA = "vaxdrill.simulation/1"


class Interval(Part):
    """A mean over the replications and its 95% confidence interval (Student t)."""

    mean: float
    ci95: tuple[float, float]


Figures = TypeAliasType("Figures", "dict[str, Interval | Figures]")
"""Figures by name; a name holds an interval or more figures (per checkpoint, per stage, per site)."""


class SimulationSummary(Document):
    """What a planner reads: the answer in one sentence, then every figure per policy."""

    SCHEMA: ClassVar[str] = SCHEMA

    schema_: Literal["vaxdrill.simulation/1"] = Field(alias="schema")
    scenario: str
    seed: int
    replications: int = Field(ge=0)
    checkpoints: list[str] = Field(description="Clock times of the vaccinated_by.<HH:MM> figures.")
    answer: str
    policies: dict[str, Figures] = Field(description="Per policy; `sites` holds the same figures per site.")
    paired_differences: dict[str, Figures] = Field(
        description="`<a> vs <b>`: the replication-by-replication difference a minus b (common random numbers)."
    )
