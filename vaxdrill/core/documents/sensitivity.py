"""``summary.json`` of ``vaxdrill sensitivity`` (schema ``vaxdrill.sensitivity/1``).

Which assumption moves a metric most: Morris elementary effects (``mu_star``, ``sigma``) or Sobol'
indices (first order ``S1`` and total ``ST``), each with its bootstrap confidence half-width, as
SALib computes them; ``rank`` 1 is the parameter with the most effect.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from vaxdrill.core.documents.base import Document, Part

SCHEMA = "vaxdrill.sensitivity/1"


class SensitivityIndex(Part):
    """One parameter's indices; the fields of the other method are left out."""

    path: str
    low: str
    high: str
    rank: int = Field(ge=1)
    mu_star: float | None = None
    mu_star_conf: float | None = None
    sigma: float | None = None
    S1: float | None = None
    S1_conf: float | None = None
    ST: float | None = None
    ST_conf: float | None = None


class SensitivitySummary(Document):
    """The indices of every parameter on one metric under one policy, most influential first."""

    SCHEMA: ClassVar[str] = SCHEMA

    schema_: Literal["vaxdrill.sensitivity/1"] = Field(alias="schema")
    scenario: str
    seed: int
    replications: int = Field(ge=1, description="Replications averaged per sample (common random numbers).")
    method: Literal["morris", "sobol"]
    metric: str
    policy: str
    samples: int = Field(ge=1, description="Scenario variants run.")
    answer: str
    indices: list[SensitivityIndex]
