"""A sweep gives the same points.csv on local processes and on a dask.distributed cluster (127.0.0.1)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulation.explore.backends import Batch, LocalBackend
from simulation.explore.space import design, parse_parameter
from simulation.explore.sweep import variants
from tests.conftest import ROOT, SCENARIOS
from tests.polling import wait_until
from vaxdrill.core.scenario import load_scenario

pytestmark = pytest.mark.slow
SWEEP = [
    str(SCENARIOS / "outage-length.yaml"),
    "--param", "server.outages[0].end=10:30..12:30:1h",
    "--policy", "wait", "--policy", "offline_first",
    "-n", "2", "--seed", "9",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """A Dask scheduler and one single-threaded worker, separate processes, loopback only."""
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    scheduler_log = (tmp_path / "scheduler.log").open("wb")
    scheduler = subprocess.Popen(
        [bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=scheduler_log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    worker_log = (tmp_path / "worker.log").open("wb")
    worker = None
    try:
        wait_until(lambda: _listening(port), timeout=30, what="the Dask scheduler to listen")
        address = f"tcp://127.0.0.1:{port}"
        worker = subprocess.Popen(
            [bin_dir / "dask", "worker", address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard"],
            stdout=worker_log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
        wait_until(
            lambda: b"Register worker" in (tmp_path / "scheduler.log").read_bytes(),
            timeout=30,
            what="the Dask worker to register",
        )
        yield address
    finally:
        if worker is not None:
            _stop(worker)
        _stop(scheduler)
        scheduler_log.close()
        worker_log.close()


def _sweep(out: Path, *backend: str) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "vaxdrill", "sweep", *SWEEP, *backend, "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    return out


def test_points_csv_is_identical_on_local_processes_and_on_dask(cluster: str, tmp_path: Path) -> None:
    local = _sweep(tmp_path / "local", "--workers", "2")
    dask = _sweep(tmp_path / "dask", "--dask", cluster)
    assert (local / "points.csv").read_bytes() == (dask / "points.csv").read_bytes()
    assert (local / "summary.json").read_bytes() == (dask / "summary.json").read_bytes()
    rows = (local / "points.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 2 * 2  # points x policies x replications
    assert '"backend": "dask"' in (dask / "run.json").read_text()


@pytest.mark.parametrize("workers", [2, 3])
def test_local_workers_give_what_one_worker_gives_each_task_once(workers: int) -> None:
    """This process runs tasks beside the pool's processes: whoever ran a task, the results are those
    of one worker in the same order, no task twice or missing, and progress counts every task."""
    scenario = load_scenario(SCENARIOS / "outage-length.yaml")
    param = parse_parameter(scenario, "server.outages[0].end=10:30..12:30:1h")
    batch = Batch(variants(scenario, [param], design([param], "grid", None, 9)), 3, 9, ("wait", "offline_first"))
    one = LocalBackend(1).run(batch)
    done: list[None] = []
    many = LocalBackend(workers).run(batch, on_done=lambda: done.append(None))
    assert [(t.variant, t.replication) for t in many] == batch.tasks() == [(t.variant, t.replication) for t in one]
    assert many == one and len(done) == len(batch.tasks()) == 9
    assert len({t.totals["wait"]["vaccinated"] for t in many}) > 1  # the tasks really differ
