"""A fault plan that does not fit the run is the user's mistake, unless it is rescaled to fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SCENARIOS
from vaxdrill.core.errors import ExitCode, VaxdrillError
from vaxdrill.core.scenario import load_scenario
from vaxdrill.loadtest.faultplan import fit_faults, misfits, without_faults
from vaxdrill.loadtest.faults import fault_line

RAIGAD = SCENARIOS / "raigad-2021-01-16.yaml"  # an outage at 20 s for 15 s in a 60 s day


def test_a_fault_past_the_run_is_exit_2_naming_the_fault(tmp_path: Path) -> None:
    scenario = load_scenario(RAIGAD)
    assert misfits(scenario.faults, 60.0) == []
    with pytest.raises(VaxdrillError) as caught:
        fit_faults(scenario, RAIGAD, tmp_path, 30.0, 60.0, scale=False)
    assert caught.value.exit_code == ExitCode.USER_ERROR
    message = str(caught.value)
    assert "faults[0] (outage at 20s for 15s) ends at 35s, after the run ends at 30s" in message
    assert "--scale-faults" in message and "\n" not in message
    assert "starts after the run" in misfits(scenario.faults, 20.0)[0]


def test_scale_faults_keeps_the_plans_shape_inside_the_run(tmp_path: Path) -> None:
    scenario = load_scenario(RAIGAD)
    path, fitted, note = fit_faults(scenario, RAIGAD, tmp_path, 30.0, 60.0, scale=True)
    [fault] = fitted.faults
    assert (fault.at, fault.duration) == (10.0, 7.5)  # halved, like the run
    assert note and "outage at 10s for 7.5s" in note
    assert load_scenario(path).faults == fitted.faults  # the file the run reads holds the fitted plan
    same_path, same, none = fit_faults(scenario, RAIGAD, tmp_path, 60.0, 60.0, scale=True)
    assert same_path == RAIGAD and same is scenario and none is None


def test_the_capacity_search_runs_without_the_fault_plan(tmp_path: Path) -> None:
    path, bare = without_faults(load_scenario(RAIGAD), tmp_path)
    assert path is not None and bare.faults == [] and load_scenario(path).faults == []
    assert load_scenario(path).sites == load_scenario(RAIGAD).sites


def test_a_fault_line_never_says_none() -> None:
    fault = {"kind": "outage", "applied_at_s": 20.01, "duration_s": 15.0, "applied": True, "error": None,
             "before": {"error_rate": 0.0}, "during": {"error_rate": 0.96}, "after": {"error_rate": None},
             "time_to_recover_s": None}  # fmt: skip
    line = fault_line(fault, run_s=30.0)
    assert "None" not in line
    assert "during 96.0%" in line and "after no requests" in line and "recovery not measured" in line
