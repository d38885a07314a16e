"""Optimise and sensitivity against answers known beforehand: Erlang C's staffing, a parameter with no effect."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation.explore.backends import LocalBackend
from simulation.explore.optimise import parse_constraint, parse_objective, run_optimise
from simulation.explore.sensitivity import run_sensitivity
from simulation.explore.space import parse_parameter
from tests.validation.test_simulation_validation import erlang_c_wait
from vaxdrill.core.documents import OptimiseSummary, SensitivitySummary
from vaxdrill.core.scenario import load_scenario

# One M/M/c station as in scenarios/mmc-validation.yaml: 50 walk-ins an hour, exponential 3-minute
# vaccinations (offered load a = 2.5 Erlangs) over a 12-hour day.
MMC = """
name: mmc-staffing
seed: 5
replications: 6
sites:
  - name: MMc
    booked: 0
    opens: "01:00"
    closes: "13:00"
    at_close: finish
    arrivals: {walk_ins_per_hour: 50, patience: null}
    stations:
      entry: null
      verification: null
      vaccination: {staff: 1, service: "exp(3min)"}
      observation: {duration: 0s}
      recording: null
    vials: {doses_per_vial: 10, discard_after: 24h}
policies:
  wait: {rule: wait}
"""
TARGET_MINUTES = 1.5


def erlang_c_staff(lam: float, mu: float, target_seconds: float) -> int:
    """The fewest servers whose steady-state mean wait (Erlang C) is within the target."""
    c = int(lam / mu) + 1  # fewer is unstable: the queue grows without bound
    while erlang_c_wait(lam, mu, c) > target_seconds:
        c += 1
    return c


def test_optimise_finds_the_erlang_c_staffing_of_an_mmc_station(write_yaml) -> None:  # type: ignore[no-untyped-def]
    lam, mu = 50 / 3600, 1 / 180
    expected = erlang_c_staff(lam, mu, TARGET_MINUTES * 60)
    # The target sits well between c* and c* - 1, so a finite day's noise cannot move the answer.
    assert erlang_c_wait(lam, mu, expected) < TARGET_MINUTES * 60 / 2
    assert expected - 1 <= lam / mu or erlang_c_wait(lam, mu, expected - 1) > TARGET_MINUTES * 60 * 2
    scenario = load_scenario(write_yaml(MMC))
    path = "sites[0].stations.vaccination.staff"
    doc = run_optimise(
        scenario,
        [parse_parameter(scenario, f"{path}=1..8", "--decide", ranged=True)],
        parse_objective(scenario, path),
        [parse_constraint(f"wait_minutes.vaccination.mean <= {TARGET_MINUTES}")],
        policy="wait",
        confidence=0.9,
        trials=8,
        replications=6,
        seed=5,
        backend=LocalBackend(1),
    )
    summary = OptimiseSummary.model_validate(doc)
    assert summary.best == {path: expected}, summary.answer
    assert summary.recheck is not None and summary.recheck.feasible
    assert sorted(t.design[path] for t in summary.trials) == list(range(1, 9))  # a small space is tried whole
    assert all(t.feasible == (int(t.design[path]) >= expected) for t in summary.trials)


TOY = """
name: toy
seed: 3
sites:
  - name: Only
    booked: 60
    opens: "09:00"
    closes: "13:00"
    arrivals: {no_show: 2%}
server:
  outages: [{start: "18:00", end: "19:00"}]   # after the site has closed and emptied: no effect
policies:
  wait: {rule: wait}
"""


def test_sensitivity_ranks_a_parameter_without_effect_last(write_yaml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(TOY))
    params = [
        parse_parameter(scenario, "server.outages[0].end=18:30..21:00", ranged=True),
        parse_parameter(scenario, "sites[0].booked=40..80", ranged=True),
        parse_parameter(scenario, "sites[0].arrivals.no_show=0%..30%", ranged=True),
    ]
    result = run_sensitivity(scenario, params, "morris", "vaccinated", "wait", 4, 2, 3, LocalBackend(1))
    doc = SensitivitySummary.model_validate(result.document)
    ranked = [row.path for row in doc.indices]
    assert ranked[-1] == "server.outages[0].end", doc.answer
    last = doc.indices[-1]
    assert last.mu_star == pytest.approx(0.0, abs=1e-9)
    assert all((row.mu_star or 0) > 1 for row in doc.indices[:-1])
