"""``summary.json`` of ``vaxdrill calibrate`` (schema ``vaxdrill.calibrate/1``).

``fitted`` maps each ``--fit`` path to its best value (scenario units: seconds, shares 0-1, counts),
as written (``shown``), and the 95% bootstrap interval over resamples of the observed sites.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from vaxdrill.core.documents.base import Document, Part

SCHEMA = "vaxdrill.calibrate/1"
Value = int | float


class Fitted(Part):
    """One fitted parameter: the best trial's value and its 95% bootstrap interval."""

    value: Value
    shown: str
    ci95: list[float] = Field(min_length=2, max_length=2)
    shown_ci95: list[str] = Field(min_length=2, max_length=2)


class CalibrationTrial(Part):
    """One candidate tried: its values and its distance to the observed day."""

    number: int = Field(ge=0)
    values: dict[str, Value]
    distance: float = Field(ge=0)


class CalibrateSummary(Document):
    """Parameters fitted to an observed day, with the method and every trial."""

    SCHEMA: ClassVar[str] = SCHEMA

    schema_: Literal["vaxdrill.calibrate/1"] = Field(alias="schema")
    scenario: str
    seed: int
    replications: int = Field(ge=1)
    policy: str
    metric: Literal["attainment", "vaccinated"]
    observed_by: Literal["kind", "all"]
    observed_sites: int = Field(ge=1)
    method: str
    fitted: dict[str, Fitted]
    distance: float = Field(ge=0, description="Wasserstein distance of the best trial to the observed day.")
    observed_mean: float
    simulated_mean: float
    trials: list[CalibrationTrial]
