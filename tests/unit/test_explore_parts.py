"""Pieces of sweep, sensitivity and optimise that need no simulation: answers, constraints, fronts, CSV order."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation.explore.backends import TaskResult
from simulation.explore.optimise import Constraint, Evaluated, pareto, parse_constraint
from simulation.explore.space import parse_parameter
from simulation.explore.sweep import Sweep, answer, write_points_csv
from tests.conftest import SCENARIOS
from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario import load_scenario


def _sweep(gaps: list[float], results_order: list[int] | None = None) -> Sweep:
    """Outage ends 11:00..14:00; ``paper`` vaccinates ``gap`` more than ``wait`` at each (+-1 by replication)."""
    scenario = load_scenario(SCENARIOS / "raigad-2021-01-16.yaml")
    param = parse_parameter(scenario, f"server.outages[0].end=11:00..14:00:{180 // (len(gaps) - 1)}min")
    points = [(v,) for v in param.grid()]
    results = [
        TaskResult(i, r, {"wait": {"vaccinated": 100.0}, "paper": {"vaccinated": 100.0 + gap + (r - 1)}})
        for i, gap in enumerate(gaps)
        for r in range(3)
    ]
    if results_order:
        results = [results[k] for k in results_order]
    return Sweep(scenario, [param], "grid", points, ["wait", "paper"], 1, 3, results)


def test_the_answer_names_where_the_better_policy_changes() -> None:
    text = answer(_sweep([-20, -10, 0, 10, 20, 30, 40]), "vaccinated")
    # The mean difference crosses zero at 12:00; with +-1 noise the intervals bracket it by a grid step.
    assert text == (
        "paper is better than wait on vaccinated whenever server.outages[0].end is later than 12:00 [11:30, 12:30]."
    )


def test_the_answer_when_one_policy_is_best_everywhere() -> None:
    assert answer(_sweep([5, 6, 7, 8]), "vaccinated").startswith("paper gives the highest vaccinated at every point")
    assert answer(_sweep([5, 6, 7, 8]), "vaccinated") != answer(_sweep([-5, -6, -7, -8]), "vaccinated")


def test_points_csv_is_sorted_whatever_order_the_results_came_in(tmp_path: Path) -> None:
    n = 4 * 3
    ordered = _sweep([1, 2, 3, 4])
    shuffled = _sweep([1, 2, 3, 4], results_order=[(k * 5) % n for k in range(n)])
    from simulation.explore.backends import _sorted

    shuffled = Sweep(**{**shuffled.__dict__, "results": _sorted(shuffled.results)})
    a, b = write_points_csv(tmp_path / "a.csv", ordered), write_points_csv(tmp_path / "b.csv", shuffled)
    assert a.read_bytes() == b.read_bytes()
    lines = a.read_text().splitlines()
    assert lines[0] == "point,server.outages[0].end,policy,replication,vaccinated"
    assert lines[1:3] == ["0,11:00,wait,0,100.0", "0,11:00,paper,0,100.0"]


def test_constraints_read_as_planners_write_them() -> None:
    assert parse_constraint("attainment >= 95%") == Constraint("attainment", ">=", 0.95)
    assert parse_constraint("wait_minutes.mean ≤ 30") == Constraint("wait_minutes.mean", "<=", 30.0)
    with pytest.raises(ParameterError, match='expected "METRIC OP VALUE"'):
        parse_constraint("attainment is high")


def test_a_constraint_holds_only_with_the_confidence_asked() -> None:
    target = Constraint("wait_minutes.mean", "<=", 30.0)
    noisy = [20.0, 40.0, 25.0, 35.0, 28.0]  # mean 29.6: below 30 on average, not with 90% confidence
    assert target.violation(noisy, 0.9) > 0
    assert target.violation([29.0, 29.5, 29.2, 29.4, 29.1], 0.9) < 0
    assert Constraint("attainment", ">=", 0.95).violation([0.97, 0.96, 0.98], 0.9) < 0


def test_the_pareto_front_keeps_only_undominated_trials() -> None:
    first = Constraint("attainment", ">=", 0.9)
    trials = [
        Evaluated((2,), 2.0, {"attainment": [0.80]}, (0.1,)),
        Evaluated((3,), 3.0, {"attainment": [0.95]}, (-0.05,)),
        Evaluated((4,), 4.0, {"attainment": [0.94]}, (-0.04,)),  # costs more and does worse than 3
        Evaluated((5,), 5.0, {"attainment": [0.99]}, (-0.09,)),
        Evaluated((3,), 3.0, {"attainment": [0.95]}, (-0.05,)),  # the same design again
    ]
    assert pareto(trials, first) == [0, 1, 3]
