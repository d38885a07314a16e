"""Small valid results documents for tests, built through their models (so they stay valid)."""

from __future__ import annotations

from typing import Any

from vaxdrill.core.documents import CapacityResult, LoadTestSummary, SimulationSummary


def simulation_summary(policies: dict[str, Any], **fields: Any) -> dict[str, Any]:
    doc = {"schema": SimulationSummary.SCHEMA, "scenario": "test", "seed": 1, "replications": 10,
           "checkpoints": [], "answer": "wait vaccinates 100 people [95, 105].", "policies": policies,
           "paired_differences": {}, **fields}  # fmt: skip
    return SimulationSummary.model_validate(doc).to_json()


def _figures(requests: int, failures: int) -> dict[str, Any]:
    return {"requests": requests, "failures": failures, "p50": 5.0, "p95": 9.0, "p99": 12.0, "max": 20.0, "mean": 6.0}


def loadtest_summary(**fields: Any) -> dict[str, Any]:
    doc = {
        "schema": LoadTestSummary.SCHEMA, "scenario": "test", "mode": "loadtest", "shape": "open", "model": "open",
        "host": "http://127.0.0.1:8000", "duration_s": 50.0, "requests": 1000, "failures": 10, "error_rate": 0.01,
        "rps": 20.0, "latency_ms": _figures(1000, 10), "endpoints": {"schedule": _figures(10, 0)}, "slos": [],
        "faults": [], "integrity": None, "open_model": None,
        "vaccinators": {"online_records": 0, "paper_records": 0, "synced_records": 0, "outbox_depth_max": 0.0,
                        "sync_lag_p95_ms": None, "sync_lag_max_ms": None},
        "generator": {"cpu_saturated": False, "saturated_processes": [], "cpu_peak_percent": {"local": 20.0},
                      "workers": 0, "worker_nodes": ["local"]},
        "aborted": False, "breached": [], "exit_code": 0, **fields,
    }  # fmt: skip
    return LoadTestSummary.model_validate(doc).to_json()


def fault(applied_at_s: float, duration_s: float, time_to_recover_s: float | None) -> dict[str, Any]:
    window = {"requests": 100, "failures": 0, "error_rate": 0.0, "p95_ms": 10.0, "rps": 20.0}
    return {"kind": "outage", "planned_at_s": applied_at_s, "applied_at_s": applied_at_s, "duration_s": duration_s,
            "routes": ["/api/v2/*"], "mode": "503", "applied": True, "error": None, "before": window,
            "during": {**window, "failures": 90, "error_rate": 0.9}, "after": window,
            "time_to_recover_s": time_to_recover_s}  # fmt: skip


def capacity_step(rate: float, p95_ms: float, error_rate: float, ok: bool, **fields: Any) -> dict[str, Any]:
    return {"rate": rate, "throughput": rate * 0.98, "concurrency": 1.0, "mean_ms": p95_ms / 2, "p95_ms": p95_ms,
            "error_rate": error_rate, "dropped": 0, "late": 0, "slo_passed": ok, "breached": [], "phase": "ladder",
            "sustainable": ok, "little": {"observed_n": 1.0, "x_times_r": 1.0, "rel_error": 0.0, "ok": True},
            **fields}  # fmt: skip


def capacity_result(steps: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    good = [s["rate"] for s in steps if s["sustainable"]]
    doc = {"schema": CapacityResult.SCHEMA, "scenario": "test", "host": "http://127.0.0.1:8000",
           "max_sustainable_rate": max(good, default=None), "concurrency_at_max": 1.0, "first_breach_rate": None,
           "step_duration_s": 10.0, "warmup_s": 2.0, "steps": steps, "usl": None, "little_ok": True,
           "description": "test ladder", **fields}  # fmt: skip
    return CapacityResult.model_validate(doc).to_json()
