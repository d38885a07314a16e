"""``vaxdrill simulate`` end to end: outputs, determinism across runs and --workers, clear errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SMALL = """
name: small-district
checkpoints: ["11:00", "13:00"]
site_defaults: {booked: 40, opens: "09:00", closes: "13:00", district: Test}
sites:
  - {name: Town}
  - {name: Village, kind: rural, connectivity: {outages: [{start: "09:00", end: "10:30"}]}}
server:
  outages: [{start: "10:00", end: "11:00"}]
policies:
  wait: {rule: wait}
  paper_after_20: {rule: offline_after, after: 20min, escalation: 5min, back_after: 10min}
"""


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxdrill", "simulate", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_outputs_and_determinism_across_runs_and_workers(write_yaml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scenario = write_yaml(SMALL)
    runs = {}
    for label, workers in (("a", "1"), ("b", "2"), ("c", "1")):
        out = tmp_path / label
        result = simulate(str(scenario), "-n", "3", "--seed", "42", "--workers", workers, "--out", str(out))
        assert result.returncode == 0, result.stderr
        runs[label] = out
    first = (runs["a"] / "summary.json").read_bytes()
    assert first == (runs["b"] / "summary.json").read_bytes(), "--workers 2 must equal --workers 1"
    assert first == (runs["c"] / "summary.json").read_bytes(), "same seed, same bytes"

    doc = json.loads(first)
    assert doc["schema"] == "vaxdrill.simulation/1"
    assert (doc["scenario"], doc["seed"], doc["replications"]) == ("small-district", 42, 3)
    wait, paper = doc["policies"]["wait"], doc["policies"]["paper_after_20"]
    for node in (wait, paper, paper["sites"]["Village"]):
        for key in ("vaccinated", "attainment", "turned_away", "doses_wasted", "backlog_at_close"):
            assert set(node[key]) == {"mean", "ci95"}
            lo, hi = node[key]["ci95"]
            assert lo <= node[key]["mean"] <= hi
        assert set(node["vaccinated_by"]) == {"11:00", "13:00"}
        assert {"mean", "p50", "p90", "max", "vaccination"} <= set(node["wait_minutes"])
    assert paper["vaccinated_by"]["11:00"]["mean"] > wait["vaccinated_by"]["11:00"]["mean"]
    diff = doc["paired_differences"]["wait vs paper_after_20"]
    assert diff["vaccinated_by"]["11:00"]["mean"] < 0
    assert doc["answer"].startswith("paper_after_20") and "by 11:00" in doc["answer"]

    folder = runs["a"]
    for name in ("run.json", "replications.csv", "sites.csv", "series.csv", "report.html"):
        assert (folder / name).stat().st_size > 0, name
    plots = ("cumulative_vaccinated.png", "waiting_times.png", "backlog.png", "utilisation.png")
    for name in (*plots, "site_attainment.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    with (folder / "replications.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 2 and {r["policy"] for r in rows} == {"wait", "paper_after_20"}
    with (folder / "sites.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 3 * 2 * 2
    page = (folder / "report.html").read_text()
    assert page.index(doc["answer"].split(" [")[0]) < page.index("<h1>")  # the answer comes first
    assert page.count("data:image/png;base64,") == 5  # four plots, and attainment across the two sites
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "wait" in result.stdout and "paper_after_20" in result.stdout


def test_unknown_policy_and_missing_file_are_clear_errors(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = write_yaml(SMALL)
    result = simulate(str(scenario), "--policy", "paper_after20", "-n", "1")
    assert result.returncode == 2
    assert "no such policy" in result.stderr and "did you mean `paper_after_20`?" in result.stderr
    assert "Traceback" not in result.stderr
    result = simulate("scenarios/nope.yaml")
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr
    empty = write_yaml("name: nosites\n", "empty.yaml")
    result = simulate(str(empty))
    assert result.returncode == 2 and "no `sites`" in result.stderr
