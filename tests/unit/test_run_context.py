"""The Locust glue's run context: made explicitly from options, one per environment, nothing at import.

Locust monkey-patches the standard library with gevent when imported, so each check runs in a
child Python process that prints what it saw as JSON; the assertions are made here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RAIGAD = ROOT / "scenarios" / "raigad-2021-01-16.yaml"

CHILD = r"""
import json, sys
from pathlib import Path

import locustfiles.launch_day as launch_day  # importing the locustfile reads no scenario, no argv
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.event import Events
from locustfiles.lifecycle import install
from locustfiles.run_context import RunContext, add_options, context

scenario, open_scenario = sys.argv[1], sys.argv[2]
parser = LocustArgumentParser()
add_options(parser)
a_opts = parser.parse_args(["--scenario", scenario, "--vaxdrill-run", "run-a"])
b_opts = parser.parse_args(["--scenario", open_scenario, "--vaxdrill-mode", "capacity", "--admin-token", "tok-b"])
users = [launch_day.Citizen, launch_day.SlotWatcher, launch_day.Vaccinator]
env_a = Environment(user_classes=list(users), parsed_options=a_opts, events=Events())
env_b = Environment(user_classes=list(users), parsed_options=b_opts, events=Events())
out = {}
try:
    context(env_a)
except RuntimeError as exc:
    out["before_install"] = str(exc)
ctx_a, ctx_b = install(env_a), install(env_b)
out["same_object"] = ctx_a is ctx_b
out["accessor"] = [context(env_a) is ctx_a, context(env_b) is ctx_b]
ctx_a.target_rate = 7.5
ctx_a.claimed.add("12345678901234")
ctx_a.due_lists["s1"] = [{"beneficiary_reference_id": "1"}]
env_a.events.request.fire(
    request_type="GET", name="findByDistrict", response_time=12.0, response_length=0, exception=None, context={}
)
out["a"] = {
    "secrets": [ctx_a.secrets.drill_otp, ctx_a.secrets.drill_staff_key, ctx_a.secrets.admin_token],
    "mode": ctx_a.mode, "run": ctx_a.run, "scenario": ctx_a.scenario.name, "duration": ctx_a.load.duration,
    "shape": type(env_a.shape_class).__name__, "requests": sorted(ctx_a.recorder.endpoints),
}
out["b"] = {
    "secrets": [ctx_b.secrets.drill_otp, ctx_b.secrets.drill_staff_key, ctx_b.secrets.admin_token],
    "mode": ctx_b.mode, "scenario": ctx_b.scenario.name, "shape": type(env_b.shape_class).__name__,
    "target_rate": ctx_b.target_rate, "claimed": sorted(ctx_b.claimed), "due": sorted(ctx_b.due_lists),
    "requests": sorted(ctx_b.recorder.endpoints),
}
try:
    install(env_a)
except RuntimeError as exc:
    out["second_install"] = str(exc)
out["library_defaults"] = RunContext.from_options(None, {"VAXDRILL_SCENARIO": scenario}).secrets.admin_token
print(json.dumps(out))
"""


def _child(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    open_scenario = tmp_path / "open.yaml"
    open_scenario.write_text(
        RAIGAD.read_text(encoding="utf-8").replace("name: ", "name: open-copy-of-", 1), encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(RAIGAD), str(open_scenario)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_two_installs_on_two_environments_share_no_state(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAXDRILL_")}
    # A scenario that does not exist: the locustfile must not read it at import (options decide, at init).
    env.update(VAXDRILL_SCENARIO=str(tmp_path / "missing.yaml"), VAXDRILL_DRILL_OTP="otp-from-env")
    env["VAXDRILL_DURATION"] = "42"
    out = _child(tmp_path, env)
    assert "no run context" in out["before_install"]
    assert out["same_object"] is False and out["accessor"] == [True, True]
    a, b = out["a"], out["b"]
    # Options first, then their environment variables, then the drill defaults.
    assert a["secrets"] == ["otp-from-env", "drill-staff", "drill-admin"]
    assert b["secrets"] == ["otp-from-env", "drill-staff", "tok-b"]
    assert (a["mode"], a["run"], a["duration"]) == ("loadtest", "run-a", 42.0)
    assert b["mode"] == "capacity" and b["scenario"].startswith("open-copy-of-")
    assert (a["shape"], b["shape"]) == ("LaunchDayShape", "OpenModelShape")
    # What one run holds is not seen by the other.
    assert a["requests"] == ["findByDistrict"] and b["requests"] == []
    assert (b["target_rate"], b["claimed"], b["due"]) == (0.0, [], [])
    assert "already has a run context" in out["second_install"]
    assert out["library_defaults"] == "drill-admin"
