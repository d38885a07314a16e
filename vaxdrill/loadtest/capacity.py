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

    rate: float  # target arrivals per second
    throughput: float  # completed requests per second
    concurrency: float  # mean requests in flight (time average)
    mean_ms: float
    p95_ms: float
    error_rate: float
    dropped: int
    late: int
    slo_passed: bool
    breached: list[str] = field(default_factory=list)
    phase: str = "ladder"

    @property
    def sustainable(self) -> bool:
        # An open model that could not start its arrivals did not sustain the rate, SLOs or not.
        return self.slo_passed and self.dropped == 0 and self.throughput >= 0.9 * self.rate

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
        tail = f"; first breach at {self._bad:g}/s" if self._bad is not None else "; the ladder ended without a breach"
        return (
            f"max sustainable arrival rate {step.rate:.1f}/s at concurrency {step.concurrency:.1f} "
            f"(p95 {step.p95_ms:.0f} ms){tail}; steps of {format_duration(self.plan.step_duration)}, "
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

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


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
    if kappa > 1e-12 and sigma < 1.0:
        peak_n = math.sqrt((1.0 - sigma) / kappa)
        peak_x = float(usl(np.array([peak_n]), lam, sigma, kappa)[0])
    else:
        peak_n, peak_x = None, (lam / sigma if sigma > 0 else None)
    return UslFit(lam, sigma, kappa, peak_n, peak_x, r2)
