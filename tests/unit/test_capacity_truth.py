"""The capacity search judges rates in journeys/s, leaves unreached endpoints and unsteady steps
unjudged, and gives the USL peak with its interval."""

from __future__ import annotations

import numpy as np

from vaxdrill.loadtest.capacity import StepResult, fit_usl, step_verdict, usl
from vaxdrill.loadtest.slo import SloResult


def test_long_journeys_that_have_not_ended_do_not_make_a_breach() -> None:
    # 5 journeys/s of citizens whose journeys outlast the step: few end within it (1/s served), and
    # Little's law does not hold (20 in flight against 1/s x 1.5 s): not steady, not judged on completions.
    unsteady = StepResult(5.0, 1.0, 20.3, 1500.0, 33.0, 0.0, 0, 0, True, requests_per_s=15.2, hold_s=8.0)
    assert not unsteady.steady and unsteady.sustainable
    # One-request journeys in a steady state that complete too few: the server did not keep up.
    short = StepResult(40.0, 30.0, 3.0, 100.0, 100.0, 0.0, 0, 0, True, requests_per_s=30.0, hold_s=8.0)
    assert short.steady and not short.sustainable


def test_an_slo_on_an_endpoint_the_step_never_reached_is_not_a_breach() -> None:
    results = [
        SloResult("schedule p95 < 800ms", "p95", 800.0, None, False, "ms"),
        SloResult("all error_rate < 2.00%", "error_rate", 0.02, 0.0, True, "share"),
    ]
    assert step_verdict(results) == (True, [])
    results.append(SloResult("findByDistrict p95 < 500ms", "p95", 500.0, 900.0, False, "ms"))
    assert step_verdict(results) == (False, ["findByDistrict p95 < 500ms"])


def test_the_usl_peak_comes_with_an_interval_that_holds_it() -> None:
    n = np.array([1, 2, 4, 6, 8, 12, 16, 24, 32], dtype=float)
    true_peak = float(usl(np.array([np.sqrt(0.97 / 0.004)]), 10.0, 0.03, 0.004)[0])
    covered = 0
    for seed in range(10):  # steps measured with 2% noise, ten times
        x = usl(n, 10.0, 0.03, 0.004) * (1 + np.random.default_rng(seed).normal(0, 0.02, len(n)))
        fit = fit_usl(list(n), list(x))
        assert fit is not None and fit.peak_x is not None and fit.peak_x_interval is not None
        low, high = fit.peak_x_interval
        assert low <= fit.peak_x <= high
        covered += low <= true_peak <= high
    assert covered >= 7  # a 95% interval; few points make a bootstrap's a little narrow
    assert "95% CI" in fit.peak_text() and "journeys/s" in fit.peak_text()
    # A straight line has no peak to give.
    line = fit_usl([1, 2, 4, 8], [10, 20, 40, 80])
    assert line is not None and line.peak_x is None and "no peak" in line.peak_text()
