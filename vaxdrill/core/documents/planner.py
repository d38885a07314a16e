"""``planner.json`` of ``vaxdrill simulate`` (schema ``vaxdrill.planner/1``).

What a district planner asks beyond the headline (issue 19, items 5-8), per policy over the
replications: sites under half their target, the worst site, rural against urban, when the last
person leaves, staff-hours after close, how often the policy is best; with a ``data_quality`` block
the mode switches and the expected duplicate and wrong records; with a ``reporting`` block what
the system holds at the day's report and at the next day's deadline. Then the assumptions the answer
rests on and, optionally, whether it flips under the other ``at_close`` choice.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from vaxdrill.core.documents.base import Document, Part
from vaxdrill.core.documents.simulation import Interval


class WorstSite(Part):
    name: str
    attainment: Interval = Field(description="Vaccinated / target at that site (0-1).")


class DataQualityFigures(Part):
    """Sums over the district's sites (issue 19, item 5)."""

    mode_switches: Interval = Field(description="Switches between online and paper, all sites.")
    duplicates_expected: Interval = Field(description="Expected duplicate dose records.")
    duplicates_from_switches_expected: Interval = Field(description="The part of them due to mode switches.")
    wrong_records_expected: Interval = Field(description="Expected wrong 'vaccinated' marks.")
    wrong_records_from_switches_expected: Interval
    reconciliation: Interval = Field(description="Paper records that needed reconciliation.")


class NextDayFigures(Part):
    """What the registration system holds (issue 19, item 6), summed over sites."""

    report_time: str = Field(description="The day's reporting time (HH:MM).")
    deadline: str = Field(description="The next day's reporting deadline (HH:MM).")
    visible_at_report: Interval = Field(description="Doses in the system at the reporting time.")
    backlog_at_report: Interval = Field(description="Paper records not yet entered at the reporting time.")
    visible_at_next_deadline: Interval = Field(description="Doses in the system at the next day's deadline.")
    backlog_at_next_deadline: Interval
    share_of_sites_cleared_by_deadline: Interval = Field(description="Sites whose backlog is cleared (0-1).")
    latest_clearing: str = Field(
        description="When the last site's backlog was cleared in the worst replication (next day HH:MM; 00:00: "
        "every record entered by midnight)."
    )


class PolicyFigures(Part):
    share_of_sites_under_half: Interval = Field(description="Share of sites under 50% of their target (0-1).")
    worst_site: WorstSite
    attainment_by_kind: dict[str, Interval] = Field(description="rural / urban: vaccinated over target.")
    last_person_leaves: str = Field(description="Clock time (mean) the district's last beneficiary left.")
    staff_hours_after_close: Interval
    probability_best: float = Field(ge=0, le=1, description="Share of paired replications it vaccinated most.")
    data_quality: DataQualityFigures | None = None
    next_day: NextDayFigures | None = None


class Margin(Part):
    policy: str
    over: str
    mean: float
    ci95: tuple[float, float]


class FlipCheck(Part):
    """The same replications with every site's ``at_close`` the other way."""

    assumption: Literal["at_close"]
    other_choice: Literal["finish", "send_home"]
    best: str
    best_other: str
    flips: bool
    margin: Margin
    margin_other: Margin


class PlannerDocument(Document):
    """The planner's outputs per policy, the assumptions in words, and the optional flip check."""

    SCHEMA: ClassVar[str] = "vaxdrill.planner/1"

    schema_: Literal["vaxdrill.planner/1"] = Field(alias="schema")
    scenario: str
    seed: int
    replications: int = Field(ge=0)
    assumptions: list[str]
    sentence: str
    flip_check: FlipCheck | None
    policies: dict[str, PolicyFigures]
