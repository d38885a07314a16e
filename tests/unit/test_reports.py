"""The HTML reports: escaped names, one shared stylesheet, and figures readable from the page."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from simulation.experiment import format_interval
from tests.conftest import ROOT, SCENARIOS
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.report import drill, loadtest, simulation
from vaxdrill.report.html import lookup, stylesheet

GOLDEN = json.loads((ROOT / "tests" / "golden" / "raigad-seed7-n4" / "summary.json").read_text())
EVIL = "<script>alert('x')</script>"


class _Page(HTMLParser):
    """Collects the style elements' text and every element that carries data-metric."""

    def __init__(self) -> None:
        super().__init__()
        self.styles: list[str] = []
        self.figures: list[dict[str, str]] = []
        self._in_style = False
        self._open: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {k: v or "" for k, v in attrs}
        if tag == "style":
            self._in_style = True
            self.styles.append("")
        if "data-metric" in named:
            self._open.append({**named, "text": ""})

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False
        if tag == "td" and self._open:
            self.figures.append(self._open.pop())

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles[-1] += data
        for node in self._open:
            node["text"] += data


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _load_summary() -> dict[str, Any]:
    return {
        "schema": "vaxdrill.loadtest/1", "scenario": "x", "shape": "constant", "model": "closed",
        "host": "http://127.0.0.1:1", "duration_s": 30.0, "requests": 1234, "rps": 41.133, "error_rate": 0.01234,
        "latency_ms": {"p50": 4.2, "p95": 38.75, "p99": 91.0},
        "slos": [{"name": "p95 < 200ms", "limit": 200.0, "observed": 38.75, "passed": True, "unit": "ms"}],
        "integrity": {"passed": True, "doses_recorded": 50, "paper": 7, "lost": 0, "duplicated": 0},
        "faults": [], "endpoints": {"schedule": {"requests": 10, "failures": 0, "p50": 5, "p95": 9, "p99": 12}},
        "generator": {"cpu_saturated": False, "cpu_peak_percent": {"local": 40.0}}, "open_model": None,
        "exit_code": 0,
    }  # fmt: skip


def _three_reports(tmp_path: Path, scenario: Scenario, summary: dict[str, Any]) -> list[Path]:
    for name in ("simulation", "loadtest"):
        (tmp_path / name).mkdir()
    load = _load_summary()
    return [
        simulation.write_report(tmp_path / "simulation", scenario, summary),
        loadtest.write_report(tmp_path / "loadtest", scenario, load),
        drill.build_report(scenario, tmp_path, summary, load, None, summary, [("scenario", scenario.name)]),
    ]


@pytest.fixture
def raigad() -> Scenario:
    return load_scenario(SCENARIOS / "raigad-2021-01-16.yaml")


def test_names_are_shown_as_text_never_run(tmp_path: Path, raigad: Scenario) -> None:
    scenario = raigad.model_copy(update={"name": EVIL, "description": f"about {EVIL}"})
    summary = copy.deepcopy(GOLDEN)
    summary["policies"][EVIL] = summary["policies"].pop("wait")
    summary["answer"] = f"choose {EVIL}"
    for path in _three_reports(tmp_path, scenario, summary):
        text = path.read_text()
        assert "<script" not in text, path
        assert "&lt;script&gt;" in text, path
    policies = {f.get("data-policy") for f in _parse(tmp_path / "report.html").figures}
    assert EVIL in policies  # the attribute holds the name itself, escaped only in the markup


def test_every_report_inlines_the_one_stylesheet(tmp_path: Path, raigad: Scenario) -> None:
    pages = [_parse(path) for path in _three_reports(tmp_path, raigad, GOLDEN)]
    css = stylesheet()
    assert css.count("{") > 10
    for page in pages:
        assert len(page.styles) == 1
        assert page.styles[0].strip() == css.strip()
    for path in tmp_path.rglob("report.html"):
        assert path.read_text().count(css) == 1
        assert "http://" not in path.read_text().replace("http://127.0.0.1:1", "")  # nothing fetched


def test_the_figures_in_the_page_are_the_summarys(tmp_path: Path, raigad: Scenario) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    page = _parse(simulation.write_report(folder, raigad, GOLDEN))
    policy_figures = [f for f in page.figures if not {"data-site", "data-station"} & set(f) and "data-policy" in f]
    station_figures = [f for f in page.figures if "data-station" in f]
    assert len(station_figures) == len(GOLDEN["policies"]) * 4 * 4  # 4 stations, 4 figures each
    assert len(policy_figures) == len(GOLDEN["policies"]) * (len(simulation.MAIN) + len(GOLDEN["checkpoints"]))
    for fig in page.figures:
        node = (
            GOLDEN["policies"][fig["data-policy"]]
            if "data-policy" in fig
            else GOLDEN["paired_differences"][fig["data-pair"]]
        )
        if "data-site" in fig:
            node = node["sites"][fig["data-site"]]
        if "data-station" in fig:
            node = simulation.station_node(node, fig["data-station"])
        stat = lookup(node, fig["data-metric"])
        if stat is None:
            assert fig["text"] == "-" and "data-value" not in fig
            continue
        assert float(fig["data-value"]) == stat["mean"]
        share = fig["data-metric"] == "attainment" and "data-site" not in fig
        share = share or ("data-station" in fig and fig["data-metric"] == "utilisation")
        floor = None if "data-pair" in fig else 0.0  # counts never below 0; differences may be
        assert " ".join(fig["text"].split()) == format_interval(stat, share, floor)
    by_1330 = {f["data-policy"]: float(f["data-value"]) for f in policy_figures
               if f["data-metric"] == "vaccinated_by.13:30"}  # fmt: skip
    assert by_1330 == {name: node["vaccinated_by"]["13:30"]["mean"] for name, node in GOLDEN["policies"].items()}


def test_the_load_tests_figures_in_the_page_are_the_summarys(tmp_path: Path, raigad: Scenario) -> None:
    load = _load_summary()
    page = _parse(loadtest.write_report(tmp_path, raigad, load))
    values = {f["data-metric"]: float(f["data-value"]) for f in page.figures}
    assert values["requests"] == 1234 and values["rps"] == 41.133 and values["error_rate"] == 0.01234
    assert values["latency_ms.p95"] == 38.75 and values["slos.0.observed"] == 38.75
    drill_page = _parse(drill.build_report(raigad, tmp_path, None, load, None, None, []))
    assert {f["data-metric"]: float(f["data-value"]) for f in drill_page.figures} == values


def test_the_drill_shows_the_simulations_figures_on_both_servers(tmp_path: Path, raigad: Scenario) -> None:
    measured = copy.deepcopy(GOLDEN)
    for node in measured["policies"].values():
        node["vaccinated"]["mean"] += 1.5
    page = _parse(drill.build_report(raigad, tmp_path, GOLDEN, None, None, measured, []))
    on = {"assumed": GOLDEN, "measured": measured}
    servers = [f for f in page.figures if "data-server" in f]
    assert len(servers) == len(GOLDEN["policies"]) * 4
    for fig in servers:
        stat = lookup(on[fig["data-server"]]["policies"][fig["data-policy"]], fig["data-metric"])
        assert float(fig["data-value"]) == stat["mean"]
    by_1330 = {f["data-policy"]: float(f["data-value"]) for f in page.figures
               if f["data-metric"] == "vaccinated_by.13:30"}  # fmt: skip
    assert by_1330 == {name: node["vaccinated_by"]["13:30"]["mean"] for name, node in GOLDEN["policies"].items()}
    assert "The load test did not run" in (tmp_path / "report.html").read_text()


def test_intervals_on_counts_never_go_below_zero_in_the_report(tmp_path: Path, raigad: Scenario) -> None:
    summary = copy.deepcopy(GOLDEN)
    name = next(iter(summary["policies"]))
    summary["policies"][name]["vaccinated"] = {"mean": 10.4, "ci95": [-21.3, 42.1]}
    page = _parse(simulation.write_report(tmp_path, raigad, summary))
    cells = [
        f
        for f in page.figures
        if f.get("data-policy") == name and f["data-metric"] == "vaccinated" and "data-site" not in f
    ]
    assert cells and all(" ".join(c["text"].split()) == "10 [0, 42]" for c in cells)
