"""Data quality and the next day's reporting (issue 19, items 5 and 6): optional scenario blocks.

``data_quality``: the share of paper records needing reconciliation, and the chance that a dose
record is a duplicate or a wrong "vaccinated" mark, grow with the site's mode switches so far
(launch-day reports of duplicates where sites flipped between modes; the rates themselves are
ASSUMPTIONS, no published per-switch figure exists). ``reporting``: what the system holds at the
day's reporting time and at the next day's deadline, with back-entry resumed the next morning.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from vaxdrill.core.scenario.base import Strict
from vaxdrill.core.scenario.units import ClockTime, Share


class DataQuality(Strict):
    """Per record made after ``k`` mode switches at its site: probability ``base + per_switch * k`` (capped at 1).

    Defaults are assumptions (not cited): 0.5% duplicates and 0.2% wrong marks without switches,
    each switch adding 1 and 0.5 points; the reconciliation share (``paper.reconciliation_share``,
    5% by default) adds 2 points per switch.
    """

    duplicate_base: Share = Field(0.005, ge=0, le=1, description="Chance a dose record is duplicated (ASSUMPTION).")
    duplicate_per_switch: Share = Field(0.01, ge=0, le=1, description="Added per mode switch so far (ASSUMPTION).")
    wrong_base: Share = Field(0.002, ge=0, le=1, description="Chance of a wrong 'vaccinated' mark (ASSUMPTION).")
    wrong_per_switch: Share = Field(0.005, ge=0, le=1, description="Added per mode switch so far (ASSUMPTION).")
    reconciliation_per_switch: Share = Field(
        0.02, ge=0, le=1, description="Added to a paper record's reconciliation share per switch (ASSUMPTION)."
    )


class Reporting(Strict):
    """The day's report and the next day's deadline; paper left at midnight is entered the next morning."""

    time: ClockTime = Field(
        "19:00", validate_default=True, description="The day's reporting time (district report at 19:00)."
    )
    next_day_start: ClockTime = Field(
        "09:00", validate_default=True, description="When back-entry resumes the next day (ASSUMPTION)."
    )
    next_day_deadline: ClockTime = Field(
        "12:00", validate_default=True, description="The next day's reporting deadline (ASSUMPTION)."
    )
    next_day_records_per_hour: float = Field(
        30.0, gt=0, le=10_000, description="Records a site enters per hour the next morning (ASSUMPTION: 2 min each)."
    )

    @model_validator(mode="after")
    def _order(self) -> Reporting:
        if self.next_day_deadline < self.next_day_start:
            raise ValueError("next_day_deadline must not be before next_day_start")
        return self
