"""What one simulated day measured, per site and for all sites together.

Metrics are flat ``name -> float`` maps (``wait_minutes.p90``, ``vaccinated_by.13:30``,
``utilisation.vaccination``) so replications can be averaged key by key; the summary nests them.
Times are reported in minutes, clock times as ``HH:MM`` keys.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from simulation.availability import HORIZON
from simulation.hybrid import metrics as hybrid_metrics
from simulation.quality import SUMMED as QUALITY_SUMMED
from simulation.shifts import breaks_minutes, staff_metrics
from simulation.site import SiteModel
from vaxdrill.core.scenario.units import format_clock
from vaxdrill.core.stats import quantile

Metrics = dict[str, float]
STATIONS = ("entry", "verification", "vaccination", "recording")
"""The MoHFW team's staffed stations; a site with a ``flow`` reports its own stations' names."""


def station_names(present: Iterable[str]) -> list[str]:
    """Station names in report order: the MoHFW team's first, then flow stations as first met."""
    seen = list(dict.fromkeys(present))
    return [n for n in STATIONS if n in seen] + [n for n in seen if n not in STATIONS]


GRID_STEP = 300.0
GRID = np.arange(0.0, HORIZON + GRID_STEP, GRID_STEP)
"""Time series are sampled every 5 minutes from midnight to midnight."""
WAIT_BINS = np.arange(0.0, 362.0, 2.0)
"""Histogram bins (minutes) of the time from arrival to vaccination; the last bin takes the rest."""


def wait_stats(prefix: str, waits: Sequence[float], out: Metrics) -> None:
    """mean, p50, p90 and max of waits given in seconds, written in minutes."""
    ordered = sorted(waits)
    n = len(ordered)
    out[f"{prefix}.mean"] = sum(ordered) / n / 60.0 if n else 0.0
    out[f"{prefix}.p50"] = quantile(ordered, 0.5) / 60.0
    out[f"{prefix}.p90"] = quantile(ordered, 0.9) / 60.0
    out[f"{prefix}.max"] = ordered[-1] / 60.0 if n else 0.0


def _count_until(times: list[float], t: float) -> int:
    return int(np.searchsorted(np.asarray(times), t, side="right")) if times else 0


def session_end(m: SiteModel) -> float:
    """When the site's last beneficiary left (midnight if someone is still inside)."""
    return HORIZON if m.inside > 0 else max(m.closes, m.last_exit)


def site_metrics(m: SiteModel, checkpoints: Sequence[float]) -> Metrics:
    """Every metric of one site's day."""
    plan, site = m.plan, m.site
    out: Metrics = {}
    target = site.target if site.target is not None else site.booked
    out["booked"] = plan.booked
    out["walk_ins"] = plan.walk_ins
    out["vaccinated"] = m.vaccinated
    vacc = m.vacc_times  # appended in time order
    for cp in checkpoints:
        out[f"vaccinated_by.{format_clock(cp)}"] = _count_until(vacc, cp)
    out["attainment"] = m.vaccinated / target if target else 0.0
    out["no_shows"] = plan.no_shows
    out["sms_not_delivered"] = plan.sms_failed
    if site.arrivals.substitution.waiting_list:  # only when asked: older outputs unchanged
        out["substitutes"] = plan.substitutes
    out["turned_away"] = sum(m.turned_away.values())
    for reason, count in m.turned_away.items():
        out[f"turned_away_by.{reason}"] = count
    out["still_inside"] = m.present
    wait_stats("wait_minutes", m.to_vaccination, out)
    end = session_end(m)
    span = max(end - m.opens, 1.0)
    queue_area = 0.0
    for name, st in m.stations.items():
        wait_stats(f"wait_minutes.{name}", st.waits, out)
        out[f"queue_length_by.{name}"] = st.area / span
        if st.staff:  # a self-service station has no staff to keep busy
            out[f"utilisation.{name}"] = st.busy / (st.staff * span)
        out[f"blocked_minutes.{name}"] = st.blocked_time / 60.0
        queue_area += st.area
    out["queue_length"] = queue_area / span
    out["doses_used"] = m.vials.used
    out["doses_wasted"] = m.vials.wasted
    out["doses_left"] = m.vials.stock_left if m.vials.stock_left < math.inf else 0.0
    out["vials_opened"] = m.vials.opened
    out["overtime_minutes"] = max(0.0, end - m.closes) / 60.0
    paper, entered = m.backlog.paper_times, m.backlog.entered_times
    out["paper_records"] = len(paper)
    out["backlog_at_close"] = _count_until(paper, m.closes) - _count_until(entered, m.closes)
    out["backlog_at_midnight"] = len(paper) - len(entered)
    if m.backlog.pending or len(entered) < len(paper):
        cleared = HORIZON  # not cleared by midnight: censored
    else:
        cleared = max(m.backlog.entered_times[-1], m.closes) if m.backlog.entered_times else m.closes
    out["backlog_cleared_after_close_minutes"] = (cleared - m.closes) / 60.0
    out["reconciliation"] = m.backlog.reconciled
    out["span_minutes"] = span / 60.0
    if m.same_day is not None:  # only under a hybrid policy: older outputs unchanged
        out.update(hybrid_metrics(m.same_day, m.closes))
    if m.postpone is not None:
        out["postpone_affected"] = m.postpone.affected
    if site.shift is not None or site.roles.vaccinator_records or site.roles.verifier_back_entry:
        out.update(staff_metrics(site, end, breaks_minutes(site)))  # only when asked: older outputs unchanged
    return out


SUMMED = {
    "booked",
    "walk_ins",
    "vaccinated",
    "no_shows",
    "sms_not_delivered",
    "substitutes",
    "turned_away",
    "still_inside",
    "doses_used",
    "doses_wasted",
    "doses_left",
    "vials_opened",
    "paper_records",
    "backlog_at_close",
    "backlog_at_midnight",
    "reconciliation",
    "staff",
    "same_day_records",
    "same_day_entered",
    "same_day_entered_by_close",
    "same_day_left_for_back_entry",
    "postpone_affected",
    "staff_hours",
    "staff_hours_after_close",
}


class DayTotals:
    """Accumulates sites as they finish, so a site's SimPy model can be dropped right away.

    Keeps only what the totals need: pooled waits, queue areas, busy time, and the 5-minute
    series (cumulative vaccinated, people waiting, backlog).
    """

    def __init__(self) -> None:
        self.to_vaccination: list[float] = []
        self.station_waits: dict[str, list[float]] = {}
        self.area: dict[str, float] = {}
        self.busy: dict[str, float] = {}
        self.capacity: dict[str, float] = {}
        self.target = 0
        self.start = math.inf
        self.end = -math.inf
        self.vacc = np.zeros(GRID.size)
        self.waiting = np.zeros(GRID.size)
        self.backlog = np.zeros(GRID.size)
        self.requests = np.zeros(GRID.size)

    def add(self, m: SiteModel) -> None:
        site = m.site
        self.target += site.target if site.target is not None else site.booked
        self.to_vaccination += m.to_vaccination
        end = session_end(m)
        self.start = min(self.start, m.opens)
        self.end = max(self.end, end)
        for name, st in m.stations.items():
            self.station_waits.setdefault(name, []).extend(st.waits)
            self.area[name] = self.area.get(name, 0.0) + st.area
            self.busy[name] = self.busy.get(name, 0.0) + st.busy
            self.capacity[name] = self.capacity.get(name, 0.0) + st.staff * max(end - m.opens, 1.0)
        if m.vacc_times:
            self.vacc += np.searchsorted(np.asarray(m.vacc_times), GRID, side="right")
        if m.queue_joins:
            self.waiting += np.searchsorted(np.asarray(m.queue_joins), GRID, side="right")
            self.waiting -= np.searchsorted(np.sort(np.asarray(m.queue_leaves)), GRID, side="right")
        reqs = [*m.failed_attempts, *m.backlog.entered_times]
        for st in m.stations.values():
            reqs += st.transactions
        if reqs:
            k = np.minimum(np.asarray(reqs) // GRID_STEP, GRID.size - 1).astype(np.int64)
            self.requests += np.bincount(k, minlength=GRID.size)
        if m.backlog.paper_times:
            self.backlog += np.searchsorted(np.asarray(m.backlog.paper_times), GRID, side="right")
            self.backlog -= np.searchsorted(np.asarray(m.backlog.entered_times), GRID, side="right")

    def total(self, per_site: Sequence[Metrics]) -> Metrics:
        """The district (or nation) as a whole: counts summed, waits pooled, utilisation busy-weighted."""
        out: Metrics = {}
        keys = sorted({k for s in per_site for k in s})  # sites may have different stations
        for key in keys:
            head = key.split(".", 1)[0]
            if key in SUMMED or key in QUALITY_SUMMED or head in ("vaccinated_by", "turned_away_by", "blocked_minutes"):
                out[key] = float(sum(s.get(key, 0.0) for s in per_site))
        out["attainment"] = out.get("vaccinated", 0.0) / self.target if self.target else 0.0
        _np_wait_stats("wait_minutes", np.asarray(self.to_vaccination, dtype=float), out)
        span = max(self.end - self.start, 1.0) if per_site else 1.0
        queue_area = 0.0
        for name in station_names(self.area):
            _np_wait_stats(f"wait_minutes.{name}", np.asarray(self.station_waits[name], dtype=float), out)
            queue_area += self.area[name]
            out[f"queue_length_by.{name}"] = self.area[name] / span
            if self.capacity[name]:
                out[f"utilisation.{name}"] = self.busy[name] / self.capacity[name]
        out["queue_length"] = queue_area / span
        overtime = [s["overtime_minutes"] for s in per_site]
        out["overtime_minutes"] = max(overtime, default=0.0)
        out["overtime_minutes_site_mean"] = float(np.mean(overtime)) if overtime else 0.0
        out["backlog_cleared_after_close_minutes"] = max(
            (s["backlog_cleared_after_close_minutes"] for s in per_site), default=0.0
        )
        if any("next_day_cleared_minutes" in s for s in per_site):
            out["next_day_cleared_minutes"] = max(s.get("next_day_cleared_minutes", 0.0) for s in per_site)
        return out

    def series(self) -> dict[str, list[float]]:
        """Cumulative vaccinated, people waiting and backlog summed over sites on :data:`GRID`,
        registration-system requests in the 5 minutes from each grid time (every transaction
        attempt, retries included, and every paper record entered later), and the histogram of
        minutes from arrival to vaccination."""
        waits = np.asarray(self.to_vaccination, dtype=float) / 60.0
        hist, _ = np.histogram(np.minimum(waits, WAIT_BINS[-1] - 1e-9), bins=WAIT_BINS)
        return {
            "vaccinated": self.vacc.tolist(),
            "waiting": self.waiting.tolist(),
            "backlog": self.backlog.tolist(),
            "requests": self.requests.tolist(),
            "wait_histogram": hist.astype(float).tolist(),
        }


def _np_wait_stats(prefix: str, waits: NDArray[np.float64], out: Metrics) -> None:
    if waits.size == 0:
        for k in ("mean", "p50", "p90", "max"):
            out[f"{prefix}.{k}"] = 0.0
        return
    out[f"{prefix}.mean"] = float(waits.mean()) / 60.0
    ordered = np.sort(waits)
    p50, p90 = quantile(ordered, 0.5), quantile(ordered, 0.9)
    out[f"{prefix}.p50"] = float(p50) / 60.0
    out[f"{prefix}.p90"] = float(p90) / 60.0
    out[f"{prefix}.max"] = float(waits.max()) / 60.0
