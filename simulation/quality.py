"""Data quality and what the system holds at reporting time (issue 19, items 5 and 6).

**Data quality.** A dose record made after ``k`` mode switches at its site is a duplicate with
probability ``duplicate_base + duplicate_per_switch * k`` and a wrong "vaccinated" mark with
probability ``wrong_base + wrong_per_switch * k`` (capped at 1); a paper record needs
reconciliation with probability ``paper.reconciliation_share + reconciliation_per_switch * k``
(:class:`simulation.backlog.Backlog` draws it from the same uniform as the flat share, so with no
switches a record is entered exactly as without the block). Outputs per site: ``mode_switches``,
the expected counts (sum of the probabilities) and the counts drawn from the site's own
``data_quality`` stream (one uniform per dose record in time order, so policies share them).

**Past midnight.** Visible in the system at the reporting time ``T``: vaccinated by ``T`` minus the
paper records not yet entered at ``T``. Records left at midnight are entered the next day from
``next_day_start`` at ``next_day_records_per_hour``: the backlog is cleared at
``next_day_start + left / rate`` and what is visible at the deadline counts whole records entered.
"""

from __future__ import annotations

import math

import numpy as np

from simulation.site import SiteModel
from simulation.streams import stream
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.quality import DataQuality, Reporting
from vaxdrill.core.scenario.units import format_clock

Metrics = dict[str, float]


def quality_stream(root: int, replication: int, index: int) -> np.random.Generator:
    """Site ``index``'s data-quality stream: new, so no other draw moves."""
    return stream(root, replication, "data_quality", index)


def prepare(model: SiteModel, dq: DataQuality | None) -> SiteModel:
    """Let the back-entry clerks grow the reconciliation share with the switches (before ``run``)."""
    if dq is not None and dq.reconciliation_per_switch > 0:
        model.backlog.recon_per_switch = dq.reconciliation_per_switch
        model.backlog.recon_share = model.site.paper.reconciliation_share
    return model


def switches_before(changes: list[tuple[float, bool]], times: list[float]) -> np.ndarray:
    """For each time, the mode switches made at or before it."""
    at = np.asarray([t for t, _ in changes], dtype=float)
    return np.searchsorted(at, np.asarray(times, dtype=float), side="right")


def record_errors(k: np.ndarray, base: float, per_switch: float, u: np.ndarray) -> tuple[float, float, int]:
    """Expected errors, the part of them due to switches, and the count drawn with uniforms ``u``."""
    p = np.minimum(base + per_switch * k, 1.0)
    return float(p.sum()), float((p - min(base, 1.0)).sum()), int((u < p).sum())


def quality_metrics(model: SiteModel, dq: DataQuality, rng: np.random.Generator) -> Metrics:
    k = switches_before(model.mode.changes, model.vacc_times)
    u_dup, u_wrong = rng.random(k.size), rng.random(k.size)
    dup, dup_sw, dups = record_errors(k, dq.duplicate_base, dq.duplicate_per_switch, u_dup)
    wrong, wrong_sw, wrongs = record_errors(k, dq.wrong_base, dq.wrong_per_switch, u_wrong)
    return {
        "mode_switches": float(len(model.mode.changes)),
        "duplicates_expected": dup,
        "duplicates_from_switches_expected": dup_sw,
        "duplicates": float(dups),
        "wrong_records_expected": wrong,
        "wrong_records_from_switches_expected": wrong_sw,
        "wrong_records": float(wrongs),
    }


def _until(times: list[float], t: float) -> int:
    return int(np.searchsorted(np.asarray(times, dtype=float), t, side="right")) if times else 0


def next_day(left: int, rep: Reporting) -> tuple[float, int]:
    """When the records left at midnight are all entered (seconds after the next midnight; 0: none
    left) and how many are entered by the next day's deadline."""
    rate = rep.next_day_records_per_hour / 3600.0  # records per second
    if left == 0:
        return 0.0, 0
    by_deadline = min(left, math.floor(rate * (rep.next_day_deadline - rep.next_day_start) + 1e-9))
    return rep.next_day_start + left / rate, by_deadline


def reporting_metrics(model: SiteModel, rep: Reporting) -> Metrics:
    paper, entered = model.backlog.paper_times, model.backlog.entered_times
    t = rep.time
    backlog_t = _until(paper, t) - _until(entered, t)
    left = len(paper) - len(entered)
    cleared_at, by_deadline = next_day(left, rep)
    return {
        "visible_at_report": float(_until(model.vacc_times, t) - backlog_t),
        "backlog_at_report": float(backlog_t),
        "visible_at_next_deadline": float(model.vaccinated - (left - by_deadline)),
        "backlog_at_next_deadline": float(left - by_deadline),
        "cleared_by_next_deadline": float(cleared_at <= rep.next_day_deadline),
        "next_day_cleared_minutes": cleared_at / 60.0,
    }


SUMMED = {
    "mode_switches",
    "duplicates_expected",
    "duplicates_from_switches_expected",
    "duplicates",
    "wrong_records_expected",
    "wrong_records_from_switches_expected",
    "wrong_records",
    "visible_at_report",
    "backlog_at_report",
    "visible_at_next_deadline",
    "backlog_at_next_deadline",
    "cleared_by_next_deadline",
}
"""Summed over sites (``cleared_by_next_deadline`` becomes the number of sites cleared);
``next_day_cleared_minutes`` takes the latest site."""


def quality_assumptions(scenario: Scenario) -> list[str]:
    """What the data-quality and next-day figures assume, as a planner would say it."""
    out: list[str] = []
    dq, rep = scenario.data_quality, scenario.reporting
    if dq is not None:
        out.append(
            f"each mode switch adds {dq.duplicate_per_switch:.1%} duplicates and {dq.wrong_per_switch:.1%} wrong "
            f"marks per later dose record (on {dq.duplicate_base:.1%} and {dq.wrong_base:.1%})"
        )
    elif any(p.rule != "wait" for p in scenario.policies.values()):
        # Without the block the answer still rests on data quality not depending on the policy: say so.
        shares = sorted({s.paper.reconciliation_share for s in scenario.sites})
        share = "/".join(f"{x:.0%}" for x in shares)
        out.append(f"{share} of paper records need reconciliation however often a site switches mode")
    if rep is not None:
        out.append(
            f"paper left at midnight is entered from {format_clock(rep.next_day_start)} the next day at "
            f"{rep.next_day_records_per_hour:g} records an hour per site"
        )
    else:
        out.append("the day's figures count every dose, entered or not (no reporting time)")
    return out
