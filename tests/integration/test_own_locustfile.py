"""Your own system: a plain locustfile through ``vaxdrill loadtest -f`` against a server that is not
vaxdrill's (Python's ``http.server``, loopback), and plain Locust with the built-in pack staying plain.

Each run is bounded (a few seconds of load); the http.server's access log shows what reached it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.polling import wait_until
from vaxdrill.core.secrets import DRILL_SECRETS
from vaxdrill.loadtest.procs import free_port
from vaxdrill.loadtest.server_process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PLAIN = """
from locust import HttpUser, constant, task


class Browser(HttpUser):
    wait_time = constant(0.1)

    @task(3)
    def home(self):
        self.client.get("/index.html", name="home")

    @task
    def about(self):
        self.client.get("/about.html")
"""

WITH_VAXDRILL = """
from locust import HttpUser, constant, task

import vaxdrill.locust as vx


class Buyer(HttpUser):
    wait_time = constant(0.1)

    @vx.preflight
    def shop_is_open(self):
        self.client.get("/index.html", name="preflight").raise_for_status()

    @task
    def buy(self):
        with self.client.get("/index.html", name="buy", catch_response=True) as resp:
            vx.record(self, {"order": len(resp.content)})
            vx.observe(self, "basket_ms", 12.5)
            vx.count(self, "orders")


@vx.verifier
def orders_kept(ledger, host):
    return {"passed": len(ledger) > 0 and all(e["order"] > 0 for e in ledger), "orders": len(ledger)}
"""

MISSING = """
from locust import HttpUser, constant, task


class Lost(HttpUser):
    wait_time = constant(0.1)

    @task
    def gone(self):
        self.client.get("/no-such-page.html")
"""

# The first request (the pre-flight's) succeeds; every later one fails.
GOES_BAD = """
from locust import HttpUser, constant, task


class GoesBad(HttpUser):
    wait_time = constant(0.1)
    calls = 0

    @task
    def page(self):
        GoesBad.calls += 1
        self.client.get("/index.html" if GoesBad.calls == 1 else "/vanished.html", name="page")
"""


@dataclass
class StaticServer:
    url: str
    log: Path

    def requests_for(self, path: str) -> int:
        return sum(f"GET {path} " in line for line in self.log.read_text(errors="replace").splitlines())


@pytest.fixture(scope="module")
def static_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticServer]:
    """``python -m http.server`` on a free loopback port: not vaxdrill's server, no fault API."""
    root = tmp_path_factory.mktemp("www")
    for name in ("index.html", "about.html", "faulty.html"):
        (root / name).write_text(f"<p>{name}</p>", encoding="utf-8")
    port = free_port()
    log = root.parent / "access.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(root), str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(url + "/index.html", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, timeout=15, what="http.server to answer")
        yield StaticServer(url, log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def vaxdrill(*args: str, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxdrill", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def summary_of(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "summary.json").read_text())


BUYER = """
name: buyer
load:
  shape: open
  arrival_rate: 15
  duration: 6s
  open: {max_users: 10}
  locustfile: buyer.py
slos:
  - {endpoint: buy, min_rps: 1000000}
"""

CONSTANT = "load: {shape: constant, users: 3, spawn_rate: 3, duration: 6s}\n"


def test_a_plain_locustfile_meeting_its_slos_exits_0(tmp_path: Path, static_server: StaticServer) -> None:
    shop = write(tmp_path, "shop.py", PLAIN)
    scenario = write(
        tmp_path,
        "shop.yaml",
        "name: shop\n"
        + CONSTANT
        + "slos:\n  - {endpoint: home, p95: 5s}\n  - {endpoint: /about.html, error_rate: 1%}\n",
    )
    out = tmp_path / "run"
    result = vaxdrill("loadtest", str(scenario), "-f", str(shop), "--host", static_server.url, "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = summary_of(out)
    assert set(summary["endpoints"]) == {"home", "/about.html"}  # the locustfile's own request names
    assert summary["endpoints"]["home"]["requests"] > summary["endpoints"]["/about.html"]["requests"] > 0
    assert [s["passed"] for s in summary["slos"]] == [True, True]
    assert summary["integrity"] is None and "integrity: not checked" in result.stdout
    assert "integrity: not checked" in (out / "report.html").read_text()
    assert (out / "timeline.png").stat().st_size > 0
    # the same run, offered to the other commands: compare and profile read it like any load test
    assert vaxdrill("compare", str(out), str(out)).returncode == 0
    profiled = vaxdrill("profile", str(out))
    assert profiled.returncode == 0, profiled.stdout + profiled.stderr


def test_a_missed_slo_exits_99_and_the_helpers_reach_the_summary(tmp_path: Path, static_server: StaticServer) -> None:
    write(tmp_path, "buyer.py", WITH_VAXDRILL)  # named by the scenario, relative to it
    write(tmp_path, "buyer.yaml", BUYER)
    out = tmp_path / "run"
    result = vaxdrill("loadtest", str(tmp_path / "buyer.yaml"), "--host", static_server.url, "--out", str(out))
    assert result.returncode == 99, result.stdout + result.stderr
    summary = summary_of(out)
    assert summary["model"] == "open" and summary["slos"][0]["passed"] is False
    buys = summary["endpoints"]["buy"]["requests"]
    # each arrival ran one task (an arrival started as the run ended may not have finished its request)
    assert buys <= summary["open_model"]["started"] <= buys + 10
    assert summary["integrity"]["passed"] is True and summary["integrity"]["verifier"] == "orders_kept"
    assert summary["integrity"]["details"]["orders_kept"]["orders"] == buys  # the ledger, every entry
    assert summary["metrics"]["basket_ms"]["requests"] == buys and summary["counters"]["orders"] == buys
    assert "preflight" not in summary["endpoints"]  # the pre-flight is not part of the run's figures


def test_a_failing_preflight_exits_3_before_any_load(tmp_path: Path, static_server: StaticServer) -> None:
    lost = write(tmp_path, "lost.py", MISSING)
    scenario = write(tmp_path, "lost.yaml", "name: lost\n" + CONSTANT)
    result = vaxdrill(
        "loadtest", str(scenario), "-f", str(lost), "--host", static_server.url, "--out", str(tmp_path / "r")
    )
    assert result.returncode == 3, result.stdout + result.stderr
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and "pre-flight" in error[0], result.stderr
    assert f"GET {static_server.url}/no-such-page.html" in error[0] and "404" in error[0]
    assert static_server.requests_for("/no-such-page.html") == 1  # the pre-flight's one request, no load


def test_requests_all_failing_stop_the_run_with_exit_3(tmp_path: Path, static_server: StaticServer) -> None:
    bad = write(tmp_path, "bad.py", GOES_BAD)
    scenario = write(
        tmp_path, "bad.yaml", "name: bad\nload: {shape: constant, users: 2, spawn_rate: 2, duration: 60s, "
        "abort_on_errors: 5s}\n"
    )  # fmt: skip
    out = tmp_path / "run"
    result = vaxdrill("loadtest", str(scenario), "-f", str(bad), "--host", static_server.url, "--out", str(out))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "every request failed for 5s" in result.stderr
    summary = summary_of(out)
    assert summary["exit_code"] == 3 and summary["could_not_run"]
    assert summary["duration_s"] < 30  # stopped long before its 60 s
    assert summary["failures"] == summary["requests"] > 0


def test_a_fault_plan_the_target_cannot_take_exits_2_before_any_load(
    tmp_path: Path, static_server: StaticServer
) -> None:
    page = write(tmp_path, "page.py", PLAIN.replace("/index.html", "/faulty.html"))
    scenario = write(tmp_path, "f.yaml", "name: f\n" + CONSTANT + "faults:\n  - {kind: outage, at: 1s, duration: 2s}\n")
    result = vaxdrill(
        "loadtest", str(scenario), "-f", str(page), "--host", static_server.url, "--out", str(tmp_path / "r")
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "offers no fault API" in result.stderr and "network fault proxy" in result.stderr
    assert static_server.requests_for("/faulty.html") == 0  # not one request of the load


SITES = """
sites:
  - {name: Site A, district: Raigad, state: Maharashtra, pincode: "402201", booked: 100}
"""


def test_plain_locust_honours_its_options_and_injects_faults_only_when_asked(tmp_path: Path) -> None:
    scenario = write(
        tmp_path,
        "plain.yaml",
        f"name: plain\nseed: 3\n{SITES}\nload: {{shape: launch_day, duration: 60s, users: 4}}\n"
        "faults:\n  - {kind: latency, at: 0s, duration: 30s, latency: 1ms}\n",
    )
    with ServerProcess.for_run(scenario, tmp_path) as server:

        def locust(out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:  # type: ignore[type-arg]
            command = [sys.executable, "-m", "locust", "-f", "locustfiles/launch_day.py", "--headless",
                       "--only-summary", "-u", "2", "-r", "2", "-t", "4s", "--host", server.url,
                       "--scenario", str(scenario), "--vaxdrill-out", str(out), *extra]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=90)
            return done, json.loads((out / "drill-raw.json").read_text())

        started = time.monotonic()
        plain, raw = locust(tmp_path / "plain")
        assert "-u 2 -r 2 -t 4s" in plain.stderr and "NOT injected (add --faults" in plain.stderr, plain.stderr
        assert raw["duration_s"] < 20 and time.monotonic() - started < 50  # -t 4s, not the scenario's 60 s
        assert raw["faults_applied"] == []
        admin = {"Authorization": f"Bearer {DRILL_SECRETS.admin_token}"}
        assert httpx.get(server.url + "/api/v2/admin/faults", headers=admin).json()["faults"] == []

        asked, raw = locust(tmp_path / "asked", "--faults")
        assert "1 planned fault(s) injected" in asked.stderr, asked.stderr
        assert [f["kind"] for f in raw["faults_applied"]] == ["latency"] and raw["faults_applied"][0]["ok"]


def test_capacity_runs_a_plain_locustfile(tmp_path: Path, static_server: StaticServer) -> None:
    shop = write(tmp_path, "shop.py", PLAIN)
    scenario = write(
        tmp_path,
        "cap.yaml",
        "name: cap\nload:\n  steps: {start_rate: 4, step_rate: 4, max_rate: 8, step_duration: 3s, warmup: 1s, "
        "bisections: 0}\n  open: {max_users: 10}\nslos:\n  - {endpoint: home, p95: 5s}\n",
    )
    out = tmp_path / "run"
    result = vaxdrill("capacity", str(scenario), "-f", str(shop), "--host", static_server.url, "--out", str(out))
    assert result.returncode in (0, 99), result.stdout + result.stderr
    capacity = json.loads((out / "capacity.json").read_text())
    assert [s["rate"] for s in capacity["steps"]][:1] == [4.0]
    assert capacity["steps"][0]["throughput"] > 0  # the gates ran the locustfile's tasks at the step's rate
