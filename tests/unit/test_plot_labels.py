"""Every plot axis carries its unit, and checkpoint lines carry their label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulation import outputs
from simulation.experiment import run_replications
from tests.conftest import SCENARIOS
from vaxdrill.core.scenario import load_scenario


def test_simulation_plots_label_checkpoints_and_give_units(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_scenario(SCENARIOS / "raigad-2021-01-16.yaml")
    results = run_replications(scenario, 1, scenario.seed, ["wait"], 1)
    figures: list[Any] = []
    real_save = outputs._save
    monkeypatch.setattr(outputs, "_save", lambda fig, path: (figures.append(fig), real_save(fig, path))[1])
    outputs.write_plots(tmp_path, scenario, results)
    labelled = [ax for fig in figures for ax in fig.axes if ax.get_ylabel()]
    assert labelled
    for ax in labelled:
        assert "(" in ax.get_ylabel(), f"no unit: {ax.get_ylabel()!r}"
        if ax.get_xlabel():
            assert "(" in ax.get_xlabel() or ax.get_xlabel() == "station", ax.get_xlabel()
    texts = [t.get_text() for t in figures[0].axes[0].texts]
    assert [f"checkpoint {c}" for c in ("12:00", "13:30", "17:00")] == [t for t in texts if t.startswith("checkpoint")]
