"""Every results document a real short run writes validates against its model and reads back unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SCENARIOS
from vaxdrill.core.documents import (
    CapacityResult,
    Document,
    LoadTestSummary,
    PlannerDocument,
    ServerProfileDocument,
    SimulationSummary,
    read_document,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(200)]

SITE = '  - {name: Site A, district: Raigad, state: Maharashtra, pincode: "402201", booked: 100, opens: "10:00"}\n'
LOADTEST = f"""name: documents-loadtest
seed: 5
sites:
{SITE}load:
  shape: open
  duration: 8s
  arrival_rate: 15
  compression: 120
  mix: {{citizen: 1, vaccinator: 1, slot_watcher: 2}}
  open: {{max_users: 40}}
faults:
  - {{kind: outage, at: 3s, duration: 2s, routes: ["/api/v2/*"], mode: "503"}}
slos:
  - {{p95: 2s}}
"""
CAPACITY = f"""name: documents-capacity
seed: 11
sites:
{SITE}load:
  shape: steps
  mix: {{citizen: 0, vaccinator: 0, slot_watcher: 1}}
  open: {{max_users: 40, poisson: false, drop_after: 1s}}
  steps: {{start_rate: 10, step_rate: 10, max_rate: 20, step_duration: 3s, warmup: 1s, bisections: 0}}
slos:
  - {{error_rate: 5%}}
"""


def vaxdrill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaxdrill", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=150, check=False)  # fmt: skip


def reads_back(path: Path, model: type[Document]) -> Document:
    doc = read_document(path, model)
    assert doc.to_json() == json.loads(path.read_text(encoding="utf-8")), f"{path} changes through {model.__name__}"
    return doc


def test_simulate_loadtest_capacity_and_profile_documents(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    res = vaxdrill("simulate", str(SCENARIOS / "raigad-2021-01-16.yaml"), "-n", "2", "--out", str(sim))
    assert res.returncode == 0, res.stderr
    reads_back(sim / "summary.json", SimulationSummary)
    reads_back(sim / "planner.json", PlannerDocument)

    (tmp_path / "lt.yaml").write_text(LOADTEST, encoding="utf-8")
    lt = tmp_path / "lt"
    res = vaxdrill("loadtest", str(tmp_path / "lt.yaml"), "--out", str(lt))
    assert (lt / "summary.json").exists(), res.stdout + res.stderr
    summary = reads_back(lt / "summary.json", LoadTestSummary)
    assert isinstance(summary, LoadTestSummary) and summary.faults and summary.integrity is not None
    assert vaxdrill("profile", str(lt)).returncode == 0
    reads_back(lt / "server_profile.json", ServerProfileDocument)

    (tmp_path / "cap.yaml").write_text(CAPACITY, encoding="utf-8")
    cap = tmp_path / "cap"
    res = vaxdrill("capacity", str(tmp_path / "cap.yaml"), "--out", str(cap))
    assert (cap / "capacity.json").exists(), res.stdout + res.stderr
    result = reads_back(cap / "capacity.json", CapacityResult)
    assert isinstance(result, CapacityResult) and result.steps
    assert vaxdrill("profile", str(cap)).returncode == 0
    reads_back(cap / "server_profile.json", ServerProfileDocument)
