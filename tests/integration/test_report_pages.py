"""The three reports as a reader opens them: headless Chromium loads every embedded plot, logs no error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulation.outputs import PLOTS  # sets matplotlib's file-only backend before pyplot is imported
from tests.conftest import ROOT, SCENARIOS
from tests.unit.test_reports import _load_summary
from vaxdrill.cli.browser import BrowserUnavailable, check_page, find_browser
from vaxdrill.core.scenario import load_scenario
from vaxdrill.report import drill, loadtest, simulation

GOLDEN = json.loads((ROOT / "tests" / "golden" / "raigad-seed7-n4" / "summary.json").read_text())


def _plot(path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, 2, 1])
    fig.savefig(path)
    plt.close(fig)


def test_every_report_opens_in_chromium_with_its_plots(tmp_path: Path) -> None:
    try:
        find_browser()
    except BrowserUnavailable as exc:
        pytest.skip(f"no headless browser here: {exc}")
    scenario = load_scenario(SCENARIOS / "raigad-2021-01-16.yaml")
    (tmp_path / "simulation").mkdir()
    (tmp_path / "loadtest").mkdir()
    for name in PLOTS:
        _plot(tmp_path / "simulation" / name)
    _plot(tmp_path / "loadtest" / "timeline.png")
    load = _load_summary()
    pages = {
        simulation.write_report(tmp_path / "simulation", scenario, GOLDEN): len(PLOTS),
        loadtest.write_report(tmp_path / "loadtest", scenario, load): 1,
        drill.build_report(scenario, tmp_path, GOLDEN, load, None, GOLDEN, [("seed", "7")]): 3,
    }
    for page, plots in pages.items():
        seen = check_page(page)
        assert seen.ok, (page, seen.broken_images, seen.console_errors)
        assert seen.images == plots, page
