"""Server profile: what a measured server does to a transaction, as a function of offered load.

Derived from a load-test or capacity run folder, written as ``server_profile.json`` (schema
``vaxdrill.server_profile/1``, README "Calibration both ways") and read by the simulation
(``server.profile`` in a scenario), so a planner sees what a server at or past its knee does to the
queues at the sites.

- **Load test** (``summary.json`` + ``drill-raw.json``): the merged full-precision timeline has one
  window per second; each window's offered rate is its requests per second. Windows overlapping an
  injected fault (and its recovery) are left out, since outages are modelled separately in the
  simulation. Windows are sorted by offered rate and grouped into bins of at least
  :data:`MIN_REQUESTS` requests (and at most :data:`MAX_POINTS` bins); each bin is one point.
- **Capacity** (``capacity.json``, with ``drill-raw.json`` when present): one point per held step.
  The step's rate is in journeys per second; it is turned into requests per second with the run's
  requests per started journey. p50 and p99 come from the timeline windows inside the step's hold
  period (steps run back to back from the first arrival), else the step's own p95 only.

This module never imports Locust.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from vaxdrill.core.documents import CapacityResult, LoadTestSummary, ServerProfileDocument
from vaxdrill.core.documents.base import parse_document, read_document, read_json_object
from vaxdrill.core.errors import ProfileError
from vaxdrill.core.profile import FILE, SCHEMA, Point, ServerProfile, parse_profile, read_profile
from vaxdrill.core.scenario.loadplan import Slo
from vaxdrill.core.scenario.units import format_clock
from vaxdrill.loadtest.recorder import HistStat, Recorder

MIN_REQUESTS = 200
"""Fewest requests behind one load-test point (its percentiles need them)."""
MAX_POINTS = 12

__all__ = [
    "FILE", "SCHEMA", "Point", "ProfileError", "ServerProfile", "build_profile", "from_capacity", "from_loadtest",
    "parse_profile", "read_profile",
]  # fmt: skip


def _ms(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def _point(stat: HistStat, seconds: float) -> Point:
    # Checked with the whole document (:func:`_document`), so a bad figure is a one-line error.
    return Point.model_construct(
        offered_rps=round(stat.count / seconds, 4),
        throughput_rps=round((stat.count - stat.failures) / seconds, 4),
        p50_ms=_ms(stat.percentile_ms(50)),
        p95_ms=_ms(stat.percentile_ms(95)),
        p99_ms=_ms(stat.percentile_ms(99)),
        failure_rate=round(stat.failures / stat.count, 5) if stat.count else 0.0,
        requests=stat.count,
    )


def _fault_spans(summary: LoadTestSummary) -> list[tuple[float, float]]:
    """(start, end) in load-test seconds of each fault, recovery time included."""
    return [(f.applied_at_s, f.applied_at_s + f.duration_s + (f.time_to_recover_s or 0.0)) for f in summary.faults]


def _slo_ok(point: Point, slos: list[Slo]) -> bool | None:
    """Whether a point meets the scenario's all-request latency and error SLOs (None: none apply)."""
    checked = False
    for slo in slos:
        if slo.endpoint is not None:
            continue
        for name in ("p50", "p95", "p99"):
            limit = getattr(slo, name)
            observed = getattr(point, f"{name}_ms")
            if limit is not None and observed is not None:
                checked = True
                if observed > limit * 1000.0:
                    return False
        if slo.error_rate is not None:
            checked = True
            if point.failure_rate > slo.error_rate:
                return False
    return True if checked else None


def _knee(points: list[Point], ok: list[bool | None]) -> float | None:
    """Highest offered load below the first point that breaks the SLOs (None when not judged)."""
    if not points or any(v is None for v in ok):
        return None
    knee = None
    for p, good in zip(points, ok, strict=True):
        if not good:
            break
        knee = p.offered_rps
    return knee


def from_loadtest(folder: Path) -> ServerProfileDocument:
    """Profile of a ``vaxdrill loadtest`` folder (fault windows excluded, load bins)."""
    summary = read_document(folder / "summary.json", LoadTestSummary, ProfileError)
    raw = read_json_object(folder / "drill-raw.json", ProfileError)
    run = read_json_object(folder / "run.json", ProfileError) if (folder / "run.json").exists() else {}
    if "recorder" not in raw:
        raise ProfileError(f"{folder / 'drill-raw.json'}: has no `recorder` timeline")
    rec = Recorder.from_json(raw["recorder"])
    spans = _fault_spans(summary)
    w = rec.window
    windows = []
    _, last = rec.span()
    for idx, win in sorted(rec.windows.items()):
        start, end = idx * w, (idx + 1) * w
        # The last window is cut short by the end of the run: its rate would be understated.
        if idx == last or idx < 0 or win.requests.count == 0:
            continue
        if any(start < e and s < end for s, e in spans):
            continue
        windows.append(win.requests)
    total = sum(s.count for s in windows)
    if total == 0:
        raise ProfileError(f"{folder}: the load test recorded no requests outside its faults")
    per_bin = max(MIN_REQUESTS, math.ceil(total / MAX_POINTS))
    windows.sort(key=lambda s: s.count)
    bins: list[tuple[HistStat, int]] = []
    current, n = HistStat(), 0
    for stat in windows:
        current.add(stat)
        n += 1
        if current.count >= per_bin:
            bins.append((current, n))
            current, n = HistStat(), 0
    if n:
        if bins:  # too few requests for a point of its own: joins the busiest bin
            bins[-1][0].add(current)
            bins[-1] = (bins[-1][0], bins[-1][1] + n)
        else:
            bins.append((current, n))
    points = [_point(stat, n * w) for stat, n in bins]
    scenario = run.get("scenario") or {}
    slos = [Slo.model_validate(s) for s in scenario.get("slos") or []]
    knee = _knee(points, [_slo_ok(p, slos) for p in points])
    return _document({
        "schema": SCHEMA,
        "source": str(folder),
        "kind": "loadtest",
        "points": [p.model_dump() for p in points],
        "knee_rps": knee,
        "day_load": _day_load(rec, scenario),
        "excluded_fault_windows_s": [[round(s, 3), round(e, 3)] for s, e in spans],
        "window_s": w,
    })  # fmt: skip


def _document(data: dict[str, Any]) -> ServerProfileDocument:
    """The built profile through its model (a run whose figures break it gets a one-line error)."""
    return parse_document(data, ServerProfileDocument, f"{data['source']}: profile", ProfileError)


def _day_load(rec: Recorder, scenario: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Load-test second t -> clock ``first opening + t * compression``, with that window's rps."""
    from vaxdrill.core.scenario.model import Scenario

    try:
        sc = Scenario.model_validate(scenario)
    except ValueError:
        return None
    if not sc.sites:
        return None
    opening = min(s.opens for s in sc.sites)
    compression = sc.load.compression if sc.load else 240.0
    first, last = rec.span()
    out = []
    for idx in range(max(first, 0), last):  # the cut-short last window is left out
        win = rec.windows.get(idx)
        clock = opening + (idx + 0.5) * rec.window * compression
        if clock > 24 * 3600:
            break
        rps = (win.requests.count if win else 0) / rec.window
        out.append({"clock": format_clock(clock), "rps": round(rps, 4)})
    return out or None


def from_capacity(folder: Path) -> ServerProfileDocument:
    """Profile of a ``vaxdrill capacity`` folder: one point per held step."""
    cap = read_document(folder / "capacity.json", CapacityResult, ProfileError)
    steps = cap.steps
    if not steps:
        raise ProfileError(f"{folder / 'capacity.json'}: has no `steps`")
    duration = cap.step_duration_s
    warmup = cap.warmup_s
    hold = max(duration - warmup, 1e-9)
    rec: Recorder | None = None
    if (folder / "drill-raw.json").exists():
        raw = read_json_object(folder / "drill-raw.json", ProfileError)
        if "recorder" in raw:
            rec = Recorder.from_json(raw["recorder"])
    per_journey = 1.0
    unit = "journeys/s"
    # Journeys the run started (open model: the gate's `started`; closed: `iterations`).
    journeys = float(rec.counters.get("started", 0) or rec.counters.get("iterations", 0)) if rec else 0.0
    if rec is not None and journeys > 0:
        per_journey = rec.total().count / journeys
        unit = "requests/s"
    start = _ladder_start(rec) if rec is not None else None
    points: list[Point] = []
    for k, s in enumerate(steps):
        rate, x, err = s.rate, s.throughput, s.error_rate
        p50 = p99 = None
        p95 = s.p95_ms
        if rec is not None and start is not None:
            # Whole windows inside the step's hold period, one window of margin each side.
            lo = start + k * duration + warmup + rec.window
            stat = rec.between(lo, start + (k + 1) * duration - rec.window)
            if stat.count:
                p50, p99 = _ms(stat.percentile_ms(50)), _ms(stat.percentile_ms(99))
                if p95 is not None and p50 is not None and p99 is not None:
                    # Windows and the step's own hold differ by a little; keep p50 <= p95 <= p99.
                    p50, p99 = min(p50, float(p95)), max(p99, float(p95))
        points.append(
            Point.model_construct(
                offered_rps=round(rate * per_journey, 4),
                throughput_rps=round(x * per_journey * (1.0 - err), 4),
                p50_ms=p50,
                p95_ms=None if p95 is None or (isinstance(p95, float) and math.isnan(p95)) else round(float(p95), 3),
                p99_ms=p99,
                failure_rate=round(err, 5),
                requests=round(x * per_journey * hold),
            )
        )
    order = sorted(range(len(points)), key=lambda i: points[i].offered_rps)
    points = [points[i] for i in order]
    good = [steps[i].sustainable for i in order]
    knee = max((p.offered_rps for p, g in zip(points, good, strict=True) if g), default=None)
    return _document({
        "schema": SCHEMA,
        "source": str(folder),
        "kind": "capacity",
        "points": [p.model_dump() for p in points],
        "knee_rps": knee,
        "day_load": None,
        "offered_unit": unit,
        "requests_per_journey": round(per_journey, 4),
    })  # fmt: skip


def _ladder_start(rec: Recorder) -> float | None:
    """Seconds after t0 of the first window in which an arrival started (the first step)."""
    started = [idx for idx, win in rec.windows.items() if win.counters.get("started", 0) > 0]
    return min(started) * rec.window if started else None


def build_profile(folder: str | Path) -> ServerProfileDocument:
    """The profile of a load-test or capacity run folder; :class:`ProfileError` for anything else."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ProfileError(f"{folder}: not a results folder")
    if (folder / "capacity.json").exists():
        return from_capacity(folder)
    if (folder / "summary.json").exists():
        summary = read_json_object(folder / "summary.json", ProfileError)
        if str(summary.get("schema", "")).startswith("vaxdrill.loadtest/"):
            if not (folder / "drill-raw.json").exists():
                raise ProfileError(f"{folder}: a load-test folder without drill-raw.json (the full timeline)")
            return from_loadtest(folder)
        raise ProfileError(
            f"{folder / 'summary.json'}: schema {summary.get('schema')!r} is neither a load test nor a capacity run"
        )
    raise ProfileError(f"{folder}: neither a load-test folder (summary.json) nor a capacity folder (capacity.json)")
