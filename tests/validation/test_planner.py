"""District-planner outputs and the answer's assumptions (issue 19, items 7 and 8)."""

from __future__ import annotations

import pytest

from simulation.experiment import run_replications
from simulation.planner import assumptions, district, planner_document
from tests.conftest import SCENARIOS
from vaxdrill.core.scenario import load_scenario

RAIGAD = load_scenario(SCENARIOS / "raigad-2021-01-16.yaml")


def test_district_outputs_follow_from_the_per_site_results() -> None:
    res = run_replications(RAIGAD, 4, seed=7)
    out = district(RAIGAD, res)
    assert sum(p["probability_best"] for p in out.values()) == pytest.approx(1.0)
    for name, p in out.items():
        att = {s.name: [r.policies[name].sites[s.name]["attainment"] for r in res] for s in RAIGAD.sites}
        worst = min(att, key=lambda k: sum(att[k]))
        assert p["worst_site"]["name"] == worst
        under = sum(sum(v < 0.5 for v in vals) for vals in att.values()) / (4 * len(RAIGAD.sites))
        assert p["share_of_sites_under_half"]["mean"] == pytest.approx(under, abs=1e-4)
        # Five people on each team (entry, verifier, vaccinator, recorder, back-entry clerk) times overtime.
        hours = [sum(5 * r.policies[name].sites[s.name]["overtime_minutes"] / 60 for s in RAIGAD.sites) for r in res]
        assert p["staff_hours_after_close"]["mean"] == pytest.approx(sum(hours) / 4, abs=1e-3)
    # wait never gets the most vaccinated on this day.
    assert out["wait"]["probability_best"] == 0.0


def test_the_sentence_names_the_close_assumption_and_the_raigad_answer_grows_without_overtime() -> None:
    """Issue 19: with send_home, offline_first beats as_happened by about 99, not about 10."""
    res = run_replications(RAIGAD, 4, seed=7, policy_names=["as_happened", "offline_first"])
    doc = planner_document(RAIGAD, res, 7, check_flip=True)
    assert "sites stay open until everyone is served" in doc["sentence"]
    flip = doc["flip_check"]
    assert flip["best"] == "offline_first" and flip["other_choice"] == "send_home"
    assert flip["margin"]["mean"] < 20 < 60 < flip["margin_other"]["mean"]
    assert "send_home" in doc["sentence"]
    home = RAIGAD.model_copy(update={"sites": [s.model_copy(update={"at_close": "send_home"}) for s in RAIGAD.sites]})
    assert "sent home" in assumptions(home)[0]
    # Without data_quality / reporting blocks the sentence says what the answer assumes instead.
    said = assumptions(RAIGAD)
    assert "5% of paper records need reconciliation however often a site switches mode" in said
    assert "the day's figures count every dose, entered or not (no reporting time)" in said
