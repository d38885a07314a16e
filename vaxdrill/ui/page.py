"""What the what-if page shows of a run: the answer, three charts, the policy and change tables.

The policy table is the report's own (:func:`vaxdrill.report.simulation.policy_table`), so its cells
carry the same ``data-metric``, ``data-value`` and ``data-policy`` attributes as ``report.html``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from markupsafe import Markup

from simulation.metrics import GRID, WAIT_BINS
from simulation.model import ReplicationResult
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.units import format_clock
from vaxdrill.core.stats import t_interval
from vaxdrill.report.html import MetricTable
from vaxdrill.report.simulation import policy_table
from vaxdrill.ui.charts import Line, Shade, chart
from vaxdrill.ui.runs import Change, Outcome, changes

LABELS = {
    "vaccinated": "vaccinated",
    "wait_minutes.mean": "wait, mean (min)",
    "paper_records": "paper records",
    "backlog_at_close": "backlog at close",
    "turned_away": "turned away",
}


@dataclass(frozen=True)
class ResultView:
    answer: str
    replications: int
    seed: int
    charts: list[Markup]
    policies: MetricTable
    changes: list[Change]
    labels: dict[str, str]


def _band(results: Sequence[ReplicationResult], policy: str, name: str) -> Line:
    mean, half = t_interval([r.policies[policy].series[name] for r in results])
    if len(results) < 2:
        return Line(policy, mean.tolist())
    return Line(policy, mean.tolist(), (mean - half).tolist(), (mean + half).tolist())


def _window(scenario: Scenario, lines: Sequence[Line]) -> tuple[int, int]:
    """Grid indices from half an hour before opening to half an hour after the last change."""
    lo = max(0.0, min(s.opens for s in scenario.sites) - 1800)
    hi = max(s.closes for s in scenario.sites) + 1800
    for line in lines:
        moving = np.flatnonzero(np.diff(np.asarray(line.mean)) != 0)
        if moving.size:
            hi = max(hi, float(GRID[moving[-1] + 1]) + 1800)
    return int(np.searchsorted(GRID, lo)), min(int(np.searchsorted(GRID, hi)), len(GRID) - 1)


def _cut(line: Line, a: int, b: int) -> Line:
    def part(v: Sequence[float] | None) -> Sequence[float] | None:
        return None if v is None else v[a : b + 1]

    return Line(line.name, line.mean[a : b + 1], part(line.lo), part(line.hi))


def _hour_ticks(a: float, b: float) -> list[tuple[float, str]]:
    return [(float(h), f"{h:02d}:00") for h in range(int(np.ceil(a)), int(b) + 1)]


def charts(outcome: Outcome) -> list[Markup]:
    scenario, results = outcome.scenario, outcome.results
    policies = list(outcome.doc["policies"])
    vacc = [_band(results, p, "vaccinated") for p in policies]
    back = [_band(results, p, "backlog") for p in policies]
    a, b = _window(scenario, vacc + back)
    hours = (GRID[a : b + 1] / 3600).tolist()
    ticks = _hour_ticks(hours[0], hours[-1])
    shades = [
        Shade(w.start / 3600, w.end / 3600, f"server {w.state} {format_clock(w.start)}-{format_clock(w.end)}",
              "#d62728" if w.state == "down" else "#ff7f0e")
        for w in scenario.server.outages
    ]  # fmt: skip
    marks = [(c / 3600, format_clock(c)) for c in scenario.checkpoints]
    out = [
        chart(
            "Cumulative vaccinated, mean and 95% band; server outages shaded",
            hours, [_cut(x, a, b) for x in vacc], "people", ticks, shades, marks, "vaccinated",
        ),
        chart(
            "Paper records not yet entered, mean and 95% band",
            hours, [_cut(x, a, b) for x in back], "records", ticks, shades, marks, "backlog",
        ),
    ]  # fmt: skip
    centres = ((WAIT_BINS[:-1] + WAIT_BINS[1:]) / 2).tolist()
    waits = []
    last = 0
    for p in policies:
        hist = np.sum([r.policies[p].series["wait_histogram"] for r in results], axis=0)
        total = float(hist.sum())
        cdf = (np.cumsum(hist) / total) if total else np.zeros(len(centres))
        waits.append(Line(p, cdf.tolist()))
        below = np.flatnonzero(cdf < 0.999)
        last = max(last, int(below[-1]) + 2 if below.size else 1)
    last = min(max(last, 5), len(centres) - 1)
    minute_ticks = [(float(m), f"{m} min") for m in range(0, int(centres[last]) + 1, 30 if centres[last] > 90 else 10)]
    out.append(
        chart(
            "Waits: share of the vaccinated who waited at most this long (all replications)",
            centres[: last + 1], [Line(w.name, w.mean[: last + 1]) for w in waits], "share",
            minute_ticks, metric="waits",
        )
    )  # fmt: skip
    return out


def result_view(what_if: Outcome, written: Outcome) -> ResultView:
    doc: dict[str, Any] = what_if.doc
    found = changes(what_if, written)
    labels = {**LABELS, **{f"vaccinated_by.{c}": f"vaccinated by {c}" for c in doc["checkpoints"]}}
    order = dict.fromkeys(c.metric for c in found)  # the columns in the order the changes come
    return ResultView(
        answer=str(doc["answer"]),
        replications=int(doc["replications"]),
        seed=int(doc["seed"]),
        charts=charts(what_if),
        policies=policy_table(doc),
        changes=found,
        labels={m: labels[m] for m in order},
    )
