"""Capacity search: an open-model ladder, bisection at the first breach, the USL and Little's law.

:class:`CapacitySearch` is a small state machine. It proposes an arrival rate; the runner holds
that rate for one step (warm-up left out) and reports a :class:`StepResult`; the search climbs
the ladder until the first step that breaches an SLO (or cannot deliver its arrivals), then
bisects between the last good and that first bad rate.

The Universal Scalability Law (Gunther) fits throughput against concurrency::

    X(N) = lambda N / (1 + sigma (N - 1) + kappa N (N - 1))

sigma is contention (queueing on a shared resource), kappa coherency (crosstalk); the peak is at
``N* = sqrt((1 - sigma) / kappa)``. Little's law ``N = X R`` (no think time inside an open-model
iteration) checks each step's measurements against each other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vaxdrill.core.scenario.loadplan import StepPlan
from vaxdrill.core.scenario.units import format_duration

LITTLE_TOLERANCE = 0.2  # relative disagreement above which a step's measurements are suspect


@dataclass
class StepResult:
    """What one held arrival rate gave, warm-up excluded."""

    rate: float  # target arrivals (journeys) per second
    throughput: float  # completed journeys per second (the rate's unit)
    concurrency: float  # mean journeys in flight (time average)
    mean_ms: float  # mean journey time
    p95_ms: float  # p95 of the requests
    error_rate: float  # share of requests that failed
    dropped: int
    late: int
    slo_passed: bool
    breached: list[str] = field(default_factory=list)
    phase: str = "ladder"
    requests_per_s: float = 0.0  # requests answered per second, beside the journeys
    hold_s: float = 0.0  # the measured part of the step (0: unknown, the journeys are taken as short)

    @property
    def steady(self) -> bool:
        """Whether the step reached a steady state, judged by Little's law (journeys in flight = completed
        journeys/s x mean journey time). Long journeys (citizens with think time) have not: few of them end
        within a step, so completions lag arrivals for a reason that is not the server."""
        return bool(self.little()["ok"])

    @property
    def sustainable(self) -> bool:
        # An open model that could not start its arrivals did not sustain the rate, SLOs or not. Completed
        # journeys must keep up with arrivals (same unit, journeys/s) once the step is steady.
        keeps_up = self.throughput >= 0.9 * self.rate or not self.steady
        return self.slo_passed and self.dropped == 0 and keeps_up

    def little(self) -> dict[str, float | bool]:
        """Little's law: mean concurrency against throughput x mean response time."""
        predicted = self.throughput * self.mean_ms / 1000.0
        err = abs(self.concurrency - predicted) / max(predicted, 1e-9) if predicted > 0 else 0.0
        return {"observed_n": self.concurrency, "x_times_r": predicted, "rel_error": err, "ok": err <= LITTLE_TOLERANCE}

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["sustainable"] = self.sustainable
        out["little"] = self.little()
        return out


def step_verdict(results: Sequence[Any]) -> tuple[bool, list[str]]:
    """(SLOs met, names of the breached ones) for one step's SLO results. An SLO on an endpoint the
    step never reached (long journeys: a citizen books only after logging in) is not judged on that
    step: its absence is not a breach of the rate held."""
    breached = [r.name for r in results if not r.passed and r.observed is not None]
    return not breached, breached


class CapacitySearch:
    """Ladder then bisection. Call :meth:`next_rate`, run it, then :meth:`record` the result."""

    def __init__(self, plan: StepPlan) -> None:
        self.plan = plan
        self.steps: list[StepResult] = []
        self._good: float | None = None
        self._bad: float | None = None
        self._bisections = 0

    def next_rate(self) -> float | None:
        """The next rate to hold, or ``None`` when the search is over."""
        if self._bad is None:
            rate = self.plan.start_rate + len(self.steps) * self.plan.step_rate
            return rate if rate <= self.plan.max_rate + 1e-9 else None
        if self._bisections >= self.plan.bisections:
            return None
        low = self._good if self._good is not None else 0.0
        return (low + self._bad) / 2.0

    def record(self, step: StepResult) -> None:
        step.phase = "ladder" if self._bad is None else "bisection"
        if step.phase == "bisection":
            self._bisections += 1
        self.steps.append(step)
        if step.sustainable:
            self._good = step.rate if self._good is None else max(self._good, step.rate)
        else:
            self._bad = step.rate if self._bad is None else min(self._bad, step.rate)

    @property
    def max_rate(self) -> float | None:
        """Highest rate sustained within SLO (``None`` if not even the first step)."""
        return self._good

    @property
    def first_breach(self) -> float | None:
        return self._bad

    def best_step(self) -> StepResult | None:
        good = [s for s in self.steps if s.sustainable]
        return max(good, key=lambda s: s.rate) if good else None

    def describe(self) -> str:
        step = self.best_step()
        if step is None:
            return "no step met the SLOs; the server cannot sustain even the first rate"
        tail = (
            f"; first breach at {self._bad:.3g} journeys/s" if self._bad is not None else "; no breach up to max_rate"
        )
        return (
            f"max sustainable arrival rate {step.rate:.3g} journeys/s ({step.requests_per_s:.3g} requests/s) "
            f"with {step.concurrency:.1f} journeys in flight (p95 {step.p95_ms:.0f} ms){tail}; "
            f"steps of {format_duration(self.plan.step_duration)}, "
            f"warm-up {format_duration(self.plan.warmup)} excluded"
        )


def usl(n: np.ndarray, lam: float, sigma: float, kappa: float) -> np.ndarray:
    return lam * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


@dataclass
class UslFit:
    """Fitted USL parameters; ``peak_n`` is ``None`` when kappa is zero (no retrograde region)."""

    lam: float
    sigma: float
    kappa: float
    peak_n: float | None
    peak_x: float | None
    r2: float
    peak_x_interval: list[float] | None = None  # 95% residual-bootstrap interval of peak_x

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def peak_text(self) -> str:
        """The peak with its interval, e.g. ``"peak 41.2 journeys/s (95% CI 39.8-43.0) at N=4.1"``."""
        if self.peak_x is None:
            return "no peak (throughput still rising: kappa 0)"
        ci = self.peak_x_interval
        interval = f" (95% CI {ci[0]:.3g}-{ci[1]:.3g})" if ci else " (interval unknown: too few steps)"
        at = f" at N={self.peak_n:.1f}" if self.peak_n else " (the contention limit lambda/sigma)"
        return f"peak {self.peak_x:.3g} journeys/s{interval}{at}"


def fit_usl(concurrency: Sequence[float], throughput: Sequence[float]) -> UslFit | None:
    """Least-squares USL fit (scipy ``curve_fit``); ``None`` with fewer than three usable points."""
    from scipy.optimize import curve_fit  # scipy is slow to import; only capacity needs it

    pts = [(n, x) for n, x in zip(concurrency, throughput, strict=True) if n > 0 and x > 0]
    if len(pts) < 3:
        return None
    n = np.array([p[0] for p in pts], dtype=float)
    x = np.array([p[1] for p in pts], dtype=float)
    lam0 = float(np.max(x / n))
    try:
        params, _ = curve_fit(
            usl, n, x, p0=(lam0, 0.05, 0.001), bounds=([0.0, 0.0, 0.0], [np.inf, 1.0, 1.0]), maxfev=20000
        )
    except (RuntimeError, ValueError):
        return None
    lam, sigma, kappa = (float(v) for v in params)
    resid = x - usl(n, lam, sigma, kappa)
    ss_tot = float(np.sum((x - x.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 1.0
    peak_n: float | None
    peak_x: float | None
    peak_n, peak_x = _peak(lam, sigma, kappa)
    if peak_n is not None and peak_n > 10.0 * float(n.max()):
        peak_n, peak_x = None, None  # far beyond the steps: an extrapolation, not a finding
    interval = _peak_interval(n, x, (lam, sigma, kappa), resid) if peak_x is not None else None
    return UslFit(lam, sigma, kappa, peak_n, peak_x, r2, interval)


def _peak(lam: float, sigma: float, kappa: float) -> tuple[float | None, float | None]:
    """(N*, X at N*), or the contention limit lambda/sigma without coherency; ``None`` for a peak
    the steps say nothing about (sigma and kappa both about 0: throughput still rising linearly)."""
    if kappa > 1e-9 and sigma < 1.0:
        peak_n = math.sqrt((1.0 - sigma) / kappa)
        return peak_n, float(usl(np.array([peak_n]), lam, sigma, kappa)[0])
    return None, (lam / sigma if sigma > 1e-3 else None)


def _peak_interval(
    n: np.ndarray, x: np.ndarray, params: tuple[float, float, float], resid: np.ndarray, draws: int = 100
) -> list[float] | None:
    """95% interval of the peak throughput by residual bootstrap (seeded: the same steps give the same
    interval). ``None`` with fewer than four steps or when too few refits find a peak."""
    from scipy.optimize import curve_fit

    if len(n) < 4:
        return None
    rng = np.random.default_rng(20210116)
    fitted = usl(n, *params)
    # Fitted residuals are smaller than the errors (three parameters were fitted): scale them back up.
    resid = resid * math.sqrt(len(n) / (len(n) - 3))
    peaks: list[float] = []
    for _ in range(draws):
        sample = np.maximum(fitted + rng.choice(resid, size=len(resid), replace=True), 1e-9)
        try:
            p, _ = curve_fit(usl, n, sample, p0=params, bounds=([0.0, 0.0, 0.0], [np.inf, 1.0, 1.0]), maxfev=5000)
        except (RuntimeError, ValueError):
            continue
        _, peak = _peak(*(float(v) for v in p))
        if peak is not None and math.isfinite(peak):
            peaks.append(peak)
    if len(peaks) < draws // 2:
        return None
    low, high = np.percentile(peaks, [2.5, 97.5])
    return [float(low), float(high)]
