"""Load from many machines, tested on one: a ``vaxdrill loadtest --master`` and ``vaxdrill worker``
processes over TCP on 127.0.0.1; and the target's rules (opt-in outside 127.0.0.0/8, the rate cap).

Every request goes to a reference server on 127.0.0.0/8; a host outside it is refused before any
process starts, so it is never contacted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.polling import wait_until
from vaxdrill.loadtest.procs import free_port
from vaxdrill.loadtest.recorder import Recorder
from vaxdrill.loadtest.server_process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SITES = """
sites:
  - {name: Site A, district: Raigad, state: Maharashtra, pincode: "402201", booked: 100}
  - {name: Site B, district: Raigad, state: Maharashtra, pincode: "402107", booked: 100}
"""
OPEN_LOAD = """
load:
  shape: open
  duration: DURATION
  arrival_rate: 8
  open: {poisson: false, max_users: 24}
  mix: {citizen: 2, vaccinator: 1, slot_watcher: 1}
  think_time: {citizen: "uniform(100ms, 300ms)"}
slos:
  - {error_rate: 5%}
"""


def scenario(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nseed: 11\n{SITES}\n{body}", encoding="utf-8")
    return path


def vaxdrill(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        cmd = [sys.executable, "-m", "vaxdrill", *args]
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


class Cluster:
    """A master (``loadtest --master``) and its workers (``vaxdrill worker``), each its own process."""

    def __init__(self, tmp_path: Path, path: Path, workers: int, *extra: str) -> None:
        self.out, self.sent = tmp_path / "run", tmp_path / "sent"
        address = f"127.0.0.1:{free_port()}"
        self.master = vaxdrill(
            "loadtest", str(path), "--master", "--expect-workers", str(workers), "--bind", address,
            "--out", str(self.out), *extra, log=tmp_path / "master.txt",
        )  # fmt: skip
        self.workers = [
            vaxdrill("worker", address, "--out", str(self.sent), log=tmp_path / f"worker-{k}.txt")
            for k in range(workers)
        ]
        self.logs = tmp_path

    def wait(self) -> int:
        code = self.master.wait(timeout=150)
        for w in self.workers:
            if w.poll() is None:
                w.wait(timeout=30)
        return code

    def stop(self) -> None:
        for proc in [self.master, *self.workers]:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.txt")))


@pytest.fixture
def cluster_of(tmp_path: Path) -> Iterator[list[Cluster]]:
    made: list[Cluster] = []
    yield made
    for c in made:
        c.stop()


def test_master_and_two_workers_merge_exactly_what_the_workers_sent(tmp_path: Path, cluster_of: list[Cluster]) -> None:
    path = scenario(tmp_path, "dist", OPEN_LOAD.replace("DURATION", "8s"))
    cluster = Cluster(tmp_path, path, 2)
    cluster_of.append(cluster)
    assert cluster.wait() == 0, cluster.output()
    summary = json.loads((cluster.out / "summary.json").read_text())
    assert summary["workers"] == {"expected": 2, "seen": summary["workers"]["seen"], "lost": []}
    assert len(summary["workers"]["seen"]) == 2 and summary["incomplete"] is False
    # The workers ran the master's scenario (they were given no file): its open model, its rate.
    assert 0.7 * 64 <= summary["open_model"]["scheduled"] <= 1.05 * 64
    sent = sorted(cluster.sent.glob("worker-*.json"))
    assert len(sent) == 2
    offline = Recorder(t0=0.0)
    for file in sent:
        offline.merge_delta(json.loads(file.read_text())["recorder"])
    total = offline.total()
    assert total.count == summary["requests"] > 50
    for p in (50, 95, 99):
        assert round(total.percentile_ms(p), 3) == summary["latency_ms"][f"p{p}"]
    assert set(offline.endpoints) == set(summary["endpoints"])
    for name, stat in offline.endpoints.items():
        mine = summary["endpoints"][name]
        assert (stat.count, stat.failures) == (mine["requests"], mine["failures"]), name
        assert round(stat.percentile_ms(99), 3) == mine["p99"], name
    assert summary["integrity"]["passed"] and summary["integrity"]["doses_recorded"] > 0


def test_a_worker_killed_mid_run_is_reported_and_the_run_is_incomplete(
    tmp_path: Path, cluster_of: list[Cluster]
) -> None:
    path = scenario(tmp_path, "killed", OPEN_LOAD.replace("DURATION", "16s"))
    cluster = Cluster(tmp_path, path, 2)
    cluster_of.append(cluster)
    history = cluster.out / "locust_stats_history.csv"

    def requests_so_far() -> int:
        lines = history.read_text().splitlines() if history.exists() else []
        rows = [line.split(",") for line in lines[1:] if ",Aggregated," in line]
        return max((int(r[17]) for r in rows if len(r) > 17 and r[17].isdigit()), default=0)

    wait_until(lambda: requests_so_far() > 10 or cluster.master.poll() is not None, timeout=120, what="requests")
    assert cluster.master.poll() is None, cluster.output()
    victim = cluster.workers[1]
    os.kill(victim.pid, signal.SIGKILL)  # `vaxdrill worker` became the Locust worker: nothing survives it
    started = time.monotonic()
    assert cluster.wait() == 3, cluster.output()
    assert time.monotonic() - started < 60
    summary = json.loads((cluster.out / "summary.json").read_text())
    assert summary["incomplete"] is True and summary["exit_code"] == 3
    lost = summary["workers"]["lost"]
    assert len(lost) == 1 and lost[0]["node"] in summary["workers"]["seen"] and lost[0]["reason"] == "no heartbeat"
    assert summary["requests"] > 10
    text = (tmp_path / "master.txt").read_text()
    assert "workers lost mid-run" in text and "--allow-worker-loss" in text and "Traceback" not in text


def test_a_host_outside_this_machine_without_opt_in_is_refused_before_anything_starts(tmp_path: Path) -> None:
    path = scenario(tmp_path, "refused", OPEN_LOAD.replace("DURATION", "6s"))
    for command in (["loadtest", "--master"], ["loadtest"], ["capacity"]):
        out = tmp_path / f"run-{len(command)}-{command[0]}"
        result = subprocess.run(
            [sys.executable, "-m", "vaxdrill", command[0], str(path), *command[1:], "--host", "http://192.0.2.1:80",
             "--out", str(out)],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2, result.stdout + result.stderr
        assert "--allow-host 192.0.2.1" in result.stderr and "allow_hosts" in result.stderr
        assert "Traceback" not in result.stderr and "target " not in result.stdout
        assert not out.exists()  # no results folder, no server, no Locust: nothing was sent


def test_a_host_elsewhere_in_127_8_is_loaded_and_max_rps_caps_the_rate(tmp_path: Path) -> None:
    seed = scenario(tmp_path, "seed", "")
    watchers = """
load:
  shape: constant
  duration: 6s
  users: 20
  spawn_rate: 20
  max_rps: 20
  mix: {citizen: 0, vaccinator: 0, slot_watcher: 1}
  journey: {watcher_poll: "uniform(5ms, 20ms)"}
"""
    path = scenario(tmp_path, "capped", watchers)
    with ServerProcess.for_run(seed, tmp_path, address="127.0.0.2") as server:
        assert server.url.startswith("http://127.0.0.2:")
        result = subprocess.run(
            [sys.executable, "-m", "vaxdrill", "loadtest", str(path), "--host", server.url,
             "--out", str(tmp_path / "r")],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"target {server.url}: planned peak 20 users, capped at 20 requests/s across all workers" in result.stdout
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["host"] == server.url
    # 20 users polling every ~12 ms would send over 1,000 requests/s; the cap lets 20/s through.
    assert 20 * 6 * 0.5 <= summary["requests"] <= 20 * summary["duration_s"] * 1.1 + 1
