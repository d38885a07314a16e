"""The load-test machinery on its own: recording, SLOs, shapes, open model, retries, capacity, integrity."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vaxdrill.core.errors import ExitCode
from vaxdrill.core.scenario.loadplan import Fault, LaunchDayPlan, RetryPolicy, Slo, StepPlan
from vaxdrill.loadtest.capacity import CapacitySearch, StepResult, fit_usl, usl
from vaxdrill.loadtest.faults import fault_report
from vaxdrill.loadtest.integrity import LedgerEntry, check
from vaxdrill.loadtest.recorder import HistStat, Recorder
from vaxdrill.loadtest.retry import RetryBudget, full_jitter, parse_retry_after, retryable
from vaxdrill.loadtest.shapes import ArrivalClock, ladder, launch_day_users, step_rate
from vaxdrill.loadtest.slo import BreachTracker, evaluate
from vaxdrill.loadtest.summary import cpu_saturation, exit_code
from vaxdrill.loadtest.testdata import IdentityPool


def test_merged_histograms_equal_one_histogram_and_keep_three_digits() -> None:
    rng = np.random.default_rng(1)
    values = rng.lognormal(math.log(120), 0.6, 20_000)
    whole = Recorder(t0=0.0)
    parts = [Recorder(t0=0.0) for _ in range(3)]
    for k, v in enumerate(values):
        whole.request("schedule", float(v), failed=k % 50 == 0, now=k / 1000)
        parts[k % 3].request("schedule", float(v), failed=k % 50 == 0, now=k / 1000)
    master = Recorder(t0=0.0)
    for part in parts:
        master.merge_delta(part.take_delta())  # as a worker's report_to_master would
    a, b = whole.endpoints["schedule"], master.endpoints["schedule"]
    assert (a.count, a.failures) == (b.count, b.failures) == (20_000, 400)
    for p in (50, 95, 99, 99.9):
        assert a.percentile_ms(p) == b.percentile_ms(p)
        exact = float(np.percentile(values, p))
        assert abs(b.percentile_ms(p) - exact) / exact < 0.01  # Locust's 2-digit buckets can be 5% off
    assert sum(w.requests.count for w in master.windows.values()) == 20_000


def test_merge_aligns_windows_of_processes_that_started_apart() -> None:
    worker = Recorder(t0=100.0)
    worker.request("x", 5.0, False, now=103.5)  # window 3 of the worker
    master = Recorder(t0=101.0)
    master.merge_delta(worker.take_delta())
    assert list(master.windows) == [2]  # 103.5 s is 2.5 s after the master's start
    assert worker.endpoints == {}  # a delta resets what was sent


def test_slo_evaluation_passes_fails_and_refuses_untested_endpoints() -> None:
    rec = Recorder(t0=0.0)
    for k in range(100):
        rec.request("schedule", 100.0 + k, failed=k < 3, now=0)
    slos = [
        Slo.model_validate({"endpoint": "schedule", "p95": "250ms"}),
        Slo.model_validate({"endpoint": "schedule", "p99": "150ms"}),
        Slo.model_validate({"error_rate": "2%"}),
        Slo.model_validate({"min_rps": 20}),
        Slo.model_validate({"endpoint": "cancel", "p95": "1s"}),
        Slo.model_validate({"max_sync_lag": "5s"}),
    ]
    results = evaluate(slos, rec, duration_s=4.0)
    assert [r.passed for r in results] == [True, False, False, True, False, True]
    assert results[1].observed == pytest.approx(198.0, rel=0.001)  # the 99th of 100, not rounded to 200
    assert results[2].observed == pytest.approx(0.03)
    assert results[3].observed == pytest.approx(25.0)
    assert results[4].observed is None
    rec.observe("sync_lag", 7000.0)
    assert not evaluate(slos[-1:], rec, 4.0)[0].passed


def test_breach_must_be_sustained_before_abort() -> None:
    rec_bad, rec_good = Recorder(t0=0.0), Recorder(t0=0.0)
    rec_bad.request("a", 900.0, False, now=0)
    rec_good.request("a", 10.0, False, now=0)
    slo = [Slo.model_validate({"p95": "100ms"})]
    tracker = BreachTracker(sustain_s=5.0)
    assert not tracker.update(0.0, evaluate(slo, rec_bad, 1))
    assert not tracker.update(4.0, evaluate(slo, rec_bad, 1))
    assert not tracker.update(5.0, evaluate(slo, rec_good, 1))  # recovered: the clock restarts
    assert not tracker.update(6.0, evaluate(slo, rec_bad, 1))
    assert tracker.update(11.0, evaluate(slo, rec_bad, 1))


def test_launch_day_is_quiet_then_surges_then_flash_crowd_then_decays() -> None:
    plan = LaunchDayPlan()
    users = [launch_day_users(plan, 100, 100.0, t) for t in range(100)]
    assert users[0] == 10 and users[20] == 70 and users[55] == 100
    assert users[99] < users[70] < users[64]  # afternoon decay
    assert max(users) == 100 and launch_day_users(plan, 100, 100.0, 100.0) == 0


def test_step_ladder() -> None:
    plan = StepPlan(start_rate=5, step_rate=5, max_rate=20, step_duration="10s", warmup="2s")
    assert ladder(plan) == [5, 10, 15, 20]
    assert [step_rate(plan, t) for t in (0, 9.9, 10, 35, 40)] == [5, 5, 10, 20, 0]


def test_poisson_arrivals_keep_the_rate_and_the_seed() -> None:
    def rate(t: float) -> float:
        return 50.0 if t < 20 else 100.0

    def times(seed: int) -> list[float]:
        clock = ArrivalClock(rate=rate, rng=np.random.default_rng(seed))
        out = []
        while (t := clock.next_arrival(40.0)) is not None:
            out.append(t)
        return out

    a = times(3)
    assert a == times(3) and a != times(4)
    first, second = sum(t < 20 for t in a), sum(t >= 20 for t in a)
    # Poisson counts: mean 1000 and 2000, sd about 32 and 45
    assert abs(first - 1000) < 150 and abs(second - 2000) < 200
    even = ArrivalClock(rate=lambda t: 10.0, rng=np.random.default_rng(0), poisson=False, share=0.5)
    assert [round(even.next_arrival(10.0) or 0, 6) for _ in range(3)] == [0.2, 0.4, 0.6]


def test_capacity_search_climbs_then_bisects_to_the_ceiling() -> None:
    ceiling = 37.0
    search = CapacitySearch(
        StepPlan(start_rate=10, step_rate=10, max_rate=100, step_duration="5s", warmup="1s", bisections=3)
    )
    while (rate := search.next_rate()) is not None:
        ok = rate <= ceiling
        search.record(StepResult(rate, min(rate, ceiling), rate * 0.1, 100.0, 100.0, 0.0 if ok else 0.2, 0, 0, ok))
    assert [s.rate for s in search.steps] == [10, 20, 30, 40, 35, 37.5, 36.25]
    assert search.max_rate == 36.25 and search.first_breach == 37.5
    assert "36.2" in search.describe()


def test_step_with_dropped_arrivals_is_not_sustainable() -> None:
    step = StepResult(50, 50, 5, 100, 100, 0.0, dropped=3, late=10, slo_passed=True)
    assert not step.sustainable


def test_littles_law_check() -> None:
    assert StepResult(20, 20, 4.0, 200.0, 250, 0, 0, 0, True).little()["ok"]
    bad = StepResult(20, 20, 8.0, 200.0, 250, 0, 0, 0, True).little()
    assert not bad["ok"] and bad["rel_error"] == pytest.approx(1.0)


def test_usl_fit_recovers_known_parameters() -> None:
    n = np.array([1, 2, 4, 8, 16, 32, 64], dtype=float)
    x = usl(n, 100.0, 0.05, 0.002)
    fit = fit_usl(list(n), list(x))
    assert fit is not None
    assert fit.lam == pytest.approx(100.0, rel=1e-3)
    assert fit.sigma == pytest.approx(0.05, rel=1e-2) and fit.kappa == pytest.approx(0.002, rel=1e-2)
    assert fit.peak_n == pytest.approx(math.sqrt(0.95 / 0.002), rel=1e-2)
    assert fit_usl([1, 2], [1, 2]) is None


def _entry(ref: str, via: str = "online", synced: bool = True) -> LedgerEntry:
    return LedgerEntry(ref, "s1", 1, via, f"k-{ref}", synced)


def test_integrity_finds_lost_duplicated_and_overbooked() -> None:
    server = [
        {"beneficiary_reference_id": "a", "dose": 1},
        {"beneficiary_reference_id": "b", "dose": 1},
        {"beneficiary_reference_id": "b", "dose": 1},
    ]
    sessions = [{"session_id": "s1", "capacity": 10, "booked": 10}, {"session_id": "s2", "capacity": 5, "booked": 6}]
    result = check([_entry("a"), _entry("b", "paper"), _entry("c", "paper", synced=False)], server, sessions)
    assert not result["passed"]
    assert (result["lost"], result["duplicated"], result["overbooked_sessions"]) == (1, 1, 1)
    assert result["unsynced_at_end"] == 1 and result["paper"] == 2
    good = check([_entry("a"), _entry("b")], server[:2], sessions[:1])
    assert good["passed"] and good["lost"] == good["duplicated"] == 0


def test_full_jitter_is_capped_and_the_budget_stops_retry_storms() -> None:
    policy = RetryPolicy(base="500ms", cap="4s", budget=0.1)
    rng = np.random.default_rng(0)
    waits = [full_jitter(policy, attempt, rng) for attempt in range(1, 10) for _ in range(200)]
    assert min(waits) >= 0 and max(waits) <= 4.0
    first = [full_jitter(policy, 1, rng) for _ in range(500)]
    assert max(first) <= 0.5
    budget = RetryBudget(ratio=0.1, max_tokens=2, tokens=2)
    spent = 0
    for _ in range(100):  # an outage: every request fails and wants a retry
        budget.on_request()
        spent += budget.try_spend()
    assert spent <= 2 + 100 * 0.1 + 1 and budget.refused > 80


def test_retry_after_and_retryable_statuses() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("99999") == 60.0
    assert [retryable(s) for s in (429, 503, 0, 409, 500)] == ["retry_after", "backoff", "backoff", None, None]


def test_identities_are_unique_across_workers() -> None:
    seen: set[str] = set()
    for slot in range(4):
        pool = IdentityPool(slot, run="run-1")
        for _ in range(2000):
            who = pool.next()
            assert len(who.mobile) == 10 and who.mobile.isdigit()
            assert who.mobile not in seen
            seen.add(who.mobile)
            kind, number = who.photo_id(3)
            assert 1 <= kind <= 5 and len(number) <= 20 and number.isalnum()
    other_run = IdentityPool(0, run="run-2").next()
    assert other_run.mobile != IdentityPool(0, run="run-1").next().mobile


def test_fault_report_before_during_after_and_recovery() -> None:
    rec = Recorder(t0=0.0)
    for t in range(30):
        for _ in range(10):
            down = 10 <= t < 17  # the server answers again 2 s after the 5 s fault
            rec.request("a", 20.0, failed=down, now=t + 0.5)
    fault = Fault.model_validate({"kind": "outage", "at": "10s", "duration": "5s"})
    [report] = fault_report(rec, [fault], [{"applied_at_s": 10.02, "ok": True}])
    assert report["before"]["error_rate"] == 0.0 and report["during"]["error_rate"] == 1.0
    assert report["time_to_recover_s"] == pytest.approx(1.98, abs=0.01)
    assert report["applied"]


def test_exit_codes_and_cpu_saturation() -> None:
    assert exit_code(True, {"passed": True}, False) == ExitCode.OK
    assert exit_code(False, {"passed": True}, False) == ExitCode.SLO_FAILED == 99
    assert exit_code(True, {"passed": False}, False) == ExitCode.INTEGRITY_FAILED
    assert exit_code(True, None, True) == ExitCode.ABORTED
    rec = Recorder(t0=0.0)
    for t, v in enumerate([50, 95, 97, 99, 40]):
        rec.gauge("cpu_percent", "w1", v, now=t)
        rec.gauge("cpu_percent", "w2", 95 if t % 2 else 20, now=t)
    sat = cpu_saturation(rec)
    assert sat["cpu_saturated"] and sat["saturated_processes"] == ["w1"]


def test_bulk_recording_fills_the_same_buckets_as_hdrh() -> None:
    rng = np.random.default_rng(5)
    ms = np.concatenate([rng.lognormal(0, 3, 5000), [0.0, 0.0004, 1e-3, 3.6e6, 9e9]])  # edges and out of range
    bulk, one_by_one = HistStat(), HistStat()
    bulk.record_many(ms, failures=7)
    for v in ms:
        one_by_one.record(float(v))
    assert list(bulk.hist.counts) == list(one_by_one.hist.counts)
    assert bulk.hist.get_total_count() == one_by_one.hist.get_total_count() == ms.size
    assert bulk.hist.get_max_value() == one_by_one.hist.get_max_value()
    assert bulk.hist.get_min_value() == one_by_one.hist.get_min_value()
    assert (bulk.count, bulk.failures) == (ms.size, 7)


def test_numpy_percentiles_and_add_match_hdrh() -> None:
    rng = np.random.default_rng(9)
    a, b = HistStat(), HistStat()
    a.record_many(rng.lognormal(2, 1.5, 3000), failures=0)
    b.record_many(rng.exponential(40, 2000), failures=3)
    reference = HistStat()
    reference.hist.add(a.hist)
    reference.hist.add(b.hist)
    a.add(b)
    assert list(a.hist.counts) == list(reference.hist.counts)
    assert (a.hist.get_total_count(), a.hist.get_min_value(), a.hist.get_max_value()) == (
        reference.hist.get_total_count(),
        reference.hist.get_min_value(),
        reference.hist.get_max_value(),
    )
    for p in (0, 1, 50, 90, 95, 99, 99.9, 100):
        assert a.percentile_ms(p) == reference.hist.get_value_at_percentile(p) / 1000.0


def test_the_load_test_server_runs_in_drill_mode_with_the_drill_secrets(tmp_path: Path) -> None:
    from vaxdrill.core.secrets import DRILL_SECRETS
    from vaxdrill.loadtest.server_process import ServerProcess

    server = ServerProcess.for_run(tmp_path / "s.yaml", tmp_path)
    assert "--drill" in server.serve_args  # its citizens all come from 127.0.0.1: no per-address login limit
    assert server.secrets == DRILL_SECRETS
    # Secrets go in the environment, never on the command line (which any local user sees in `ps`).
    joined = " ".join(server.serve_args)
    assert not any(value in joined for value in DRILL_SECRETS.environ().values())


def test_each_load_test_run_starts_its_server_with_random_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaxdrill.cli.commands.loadtest as loadtest
    from vaxdrill.loadtest.server_process import ServerProcess

    made: list[ServerProcess] = []

    class NotStarted(ServerProcess):
        def start(self) -> ServerProcess:  # records the launch instead of starting a server
            made.append(self)
            return self

    monkeypatch.setattr(loadtest, "ServerProcess", NotStarted)
    seen = []
    for _ in range(2):
        with loadtest.target(None, tmp_path / "s.yaml", tmp_path, []) as (_url, run_secrets):
            seen.append(run_secrets)
    assert [m.secrets for m in made] == seen
    first, second = seen
    assert first.admin_token != second.admin_token and first.drill_staff_key != second.drill_staff_key
    assert first.drill_otp != second.drill_otp and len(first.admin_token) >= 24
