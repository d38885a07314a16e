"""The planner section of the simulation's ``report.html``, from ``planner.json`` (``vaxdrill.planner/1``).

Policies side by side: sites under half their target, the worst site, rural against urban,
staff-hours after close, how often each policy is best; with the scenario's ``data_quality`` and
``reporting`` blocks, the mode switches, expected duplicate and wrong records, and what the
registration system holds at the day's report and at the next day's deadline. Every figure carries
``data-metric`` (the dotted path in ``planner.json``) and ``data-policy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vaxdrill.report.html import MetricTable, metric_columns

DISTRICT = (
    ("share_of_sites_under_half", "sites under 50% of target"),
    ("worst_site.attainment", "worst site's attainment"),
    ("attainment_by_kind.rural", "attainment, rural sites"),
    ("attainment_by_kind.urban", "attainment, urban sites"),
    ("staff_hours_after_close", "staff-hours after close"),
)
QUALITY = (
    ("data_quality.mode_switches", "mode switches (all sites)"),
    ("data_quality.duplicates_expected", "duplicate records (expected)"),
    ("data_quality.duplicates_from_switches_expected", "of which from switches"),
    ("data_quality.wrong_records_expected", "wrong 'vaccinated' marks (expected)"),
    ("data_quality.wrong_records_from_switches_expected", "of which from switches"),
    ("data_quality.reconciliation", "records to reconcile"),
)
NEXT_DAY = (
    ("next_day.visible_at_report", "doses in the system at the report"),
    ("next_day.backlog_at_report", "paper not yet entered at the report"),
    ("next_day.visible_at_next_deadline", "doses in the system at the next deadline"),
    ("next_day.backlog_at_next_deadline", "paper not yet entered at the next deadline"),
    ("next_day.share_of_sites_cleared_by_deadline", "sites cleared by the next deadline"),
)
SHARES = (
    "share_of_sites_under_half",
    "worst_site.attainment",
    "attainment_by_kind.rural",
    "attainment_by_kind.urban",
    "next_day.share_of_sites_cleared_by_deadline",
)


@dataclass(frozen=True)
class PlannerSection:
    sentence: str
    table: MetricTable
    facts: list[list[dict[str, Any]]]  # per policy: name, worst site, last person leaves, P(best)
    report_time: str | None
    deadline: str | None


def _fact(text: str, metric: str, policy: str) -> dict[str, Any]:
    return {"text": text, "attrs": {"data-metric": metric, "data-policy": policy}}


def planner_section(planner: dict[str, Any] | None) -> PlannerSection | None:
    """The section's tables; None without a planner document."""
    if not planner or not planner.get("policies"):
        return None
    policies: dict[str, Any] = planner["policies"]
    first = next(iter(policies.values()))
    metrics = list(DISTRICT)
    if "data_quality" in first:
        metrics += QUALITY
    nxt = first.get("next_day")
    if nxt:
        metrics += NEXT_DAY
    subjects = [([name], {"data-policy": name}, node) for name, node in policies.items()]
    facts = [
        [
            {"text": name, "attrs": {"data-policy": name}},
            _fact(node["worst_site"]["name"], "worst_site.name", name),
            _fact(node["last_person_leaves"], "last_person_leaves", name),
            _fact(f"{node['probability_best']:.0%}", "probability_best", name),
            _fact(node["next_day"]["latest_clearing"] if nxt else "-", "next_day.latest_clearing", name),
        ]
        for name, node in policies.items()
    ]
    return PlannerSection(
        sentence=str(planner.get("sentence", "")),
        table=metric_columns("figure", metrics, subjects, share=SHARES),
        facts=facts,
        report_time=nxt["report_time"] if nxt else None,
        deadline=nxt["deadline"] if nxt else None,
    )
