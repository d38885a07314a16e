"""``vaxdrill sweep``, ``sensitivity`` and ``optimise`` end to end: files, documents, reports, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SCENARIOS
from vaxdrill.core.documents import OptimiseSummary, SensitivitySummary, SweepSummary, read_document

OUTAGE = str(SCENARIOS / "outage-length.yaml")


def vaxdrill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxdrill", *args], capture_output=True, text=True, cwd=ROOT, timeout=180
    )


def test_sweep_of_one_parameter_answers_and_writes_everything(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    result = vaxdrill(
        "sweep", OUTAGE, "--param", "server.outages[0].end=10:30..13:30:1h", "-p", "wait", "-p", "offline_first",
        "-n", "3", "--workers", "2", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = read_document(out / "summary.json", SweepSummary)
    assert [p.path for p in summary.parameters] == ["server.outages[0].end"]
    assert summary.parameters[0].values == ["10:30", "11:30", "12:30", "13:30"]
    assert len(summary.points) == 4 and summary.points[0].values == {"server.outages[0].end": "10:30"}
    assert set(summary.points[0].paired_differences) == {"offline_first vs wait"}
    # A longer outage leaves fewer vaccinated by waiting; paper all day does not depend on it.
    vaccinated = [p.policies["wait"]["vaccinated"].mean for p in summary.points]  # type: ignore[union-attr]
    assert vaccinated[-1] < vaccinated[0]
    assert summary.answer in result.stdout.replace("\n", "")
    assert summary.answer.startswith("offline_first is better than wait on vaccinated whenever server.outages[0].end")
    assert len((out / "points.csv").read_text().splitlines()) == 1 + 4 * 2 * 3
    assert (out / "metrics.png").stat().st_size > 0
    report = (out / "report.html").read_text()
    assert summary.answer in report and "data:image/png;base64," in report
    assert json.loads((out / "run.json").read_text())["backend"] == "local"


def test_sweep_of_two_parameters_draws_heat_maps(tmp_path: Path) -> None:
    out = tmp_path / "sweep2"
    result = vaxdrill(
        "sweep", OUTAGE, "--param", "server.outages[0].end=11:00,13:00",
        "--param", "policies.offline_after_30min.after=15min,1h", "-p", "wait", "-p", "offline_after_30min",
        "-n", "2", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (out / "best_policy.png").is_file() and (out / "difference.png").is_file()
    assert len(read_document(out / "summary.json", SweepSummary).points) == 4


def test_sensitivity_and_optimise_commands(tmp_path: Path) -> None:
    result = vaxdrill(
        "sensitivity", OUTAGE, "--param", "server.outages[0].end=10:30..14:00", "--param", "sms.delivery=50%..100%",
        "--metric", "vaccinated", "--method", "morris", "--trajectories", "2", "-n", "2", "--out", str(tmp_path / "s"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sens = read_document(tmp_path / "s" / "summary.json", SensitivitySummary)
    assert [i.rank for i in sens.indices] == [1, 2] and sens.samples == 2 * 3
    assert (tmp_path / "s" / "tornado.png").is_file()
    result = vaxdrill(
        "optimise", OUTAGE, "--decide", "site_defaults.stations.vaccination.staff=1..3",
        "--minimise", "site_defaults.stations.vaccination.staff", "--subject-to", "wait_minutes.mean <= 30",
        "--trials", "3", "-n", "2", "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    opt = read_document(tmp_path / "o" / "summary.json", OptimiseSummary)
    assert opt.best is not None and set(opt.best) == {"site_defaults.stations.vaccination.staff"}
    assert opt.recheck is not None and (tmp_path / "o" / "pareto.png").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sweep", OUTAGE, "--param", "sms.delivery=abc"], "--param sms.delivery: expected a share such as 2% or 0.02"),
        (["sweep", OUTAGE, "--param", "sms.delivry=50%"], "did you mean `delivery`?"),
        (["sweep", OUTAGE, "--param", "sms.delivery=50%", "--metric", "vacinated"], "did you mean `vaccinated`?"),
        (["sensitivity", OUTAGE, "--param", "sms.delivery=50%", "--metric", "vaccinated"], "expected a range"),
        (
            ["optimise", OUTAGE, "--decide", "sms.delivery=50%..90%", "--minimise", "sms.delivery",
             "--subject-to", "attainment at least 95%"],
            'expected "METRIC OP VALUE"',
        ),
    ],
)  # fmt: skip
def test_a_mistake_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = vaxdrill(*args, "--out", str(tmp_path / "never"))
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "never").exists()
