"""`vaxdrill capacity` against servers with a known ceiling: the reference server behind a fixed
in-flight limit (beyond it: 503 at once) with every request held a fixed time by a latency fault.

Its ceiling is in_flight / latency requests per second; a slot watcher's journey is one request, so
journeys/s = requests/s. The maximum sustainable rate must land within 10% of the ceiling, for two
ceilings (about 50 s each).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_loadtest_runs import scenario, vaxdrill

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

LATENCY_S = 0.4  # long beside the server's own few milliseconds, so the ceiling is the limit's


@pytest.mark.parametrize("in_flight", [4, 8])
def test_the_maximum_sustainable_rate_is_the_servers_ceiling(tmp_path: Path, in_flight: int) -> None:
    ceiling = in_flight / LATENCY_S  # 10/s and 20/s
    faults = tmp_path / "faults.yaml"
    held = f"latency: {LATENCY_S * 1000:g}ms"
    faults.write_text(f'- {{kind: latency, at: 0s, duration: 1h, {held}, routes: ["/api/v2/appointment/*"]}}\n')
    step = ceiling / 4
    path = scenario(
        tmp_path,
        f"ceiling{in_flight}",
        f"""
load:
  shape: steps
  mix: {{citizen: 0, vaccinator: 0, slot_watcher: 1}}
  retry: {{max_attempts: 1}}
  open: {{max_users: 60, poisson: false, drop_after: 1s}}
  steps: {{start_rate: {step:g}, step_rate: {step:g}, max_rate: {2 * ceiling:g}, step_duration: 4s, warmup: 1s,
           bisections: 3}}
slos:
  - {{p95: 1s}}
  - {{error_rate: 5%}}  # a step 5% past the ceiling sheds 5%: the knee stays within 10%
faults:
  - {{kind: outage, at: 1s, duration: 1h}}  # left out: capacity never applies the plan without --with-faults
""",
    )
    out = tmp_path / "cap"
    result = vaxdrill(
        "capacity", str(path), "--out", str(out), f"--server-arg=--max-in-flight={in_flight}",
        f"--server-arg=--faults={faults}", timeout=140,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fault plan is left out" in result.stdout
    cap = json.loads((out / "capacity.json").read_text())
    assert abs(cap["max_sustainable_rate"] - ceiling) <= 0.1 * ceiling, cap["steps"]
    assert cap["first_breach_rate"] > cap["max_sustainable_rate"]
    best = next(s for s in cap["steps"] if s["rate"] == cap["max_sustainable_rate"])
    assert best["requests_per_s"] == pytest.approx(best["throughput"], rel=0.15)  # one request per journey
    # Shedding at once keeps concurrency at the limit: throughput against concurrency stays a line, and
    # the USL says it has no peak rather than invent one (a peak comes with its interval: unit tests).
    usl = cap["usl"]
    assert usl is not None
    if usl["peak_x"] is None:
        assert "no peak" in result.stdout
    else:
        low, high = usl["peak_x_interval"]
        assert low <= usl["peak_x"] <= high and "95% CI" in result.stdout
