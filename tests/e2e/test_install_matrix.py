"""Every command as a user runs it: editable and wheel installs x started from the repository root and
from an unrelated folder x relative and absolute paths (issue 17).

The wheel is built once per session from a copy of the sources and installed (no dependencies, no
index) into a fresh virtual environment whose dependencies come from the test's own environment
through a ``.pth`` line; that line adds a plain folder, so the editable install's finder there is
never run and the checkout is not importable from the wheel's environment. Each command runs with
its working folder set to the case's folder.

``validate`` runs in all 8 combinations; the costlier commands in a half fraction of the 2x2x2 design
(each pair of factors seen in every combination), capacity and the drill (the longest) in the two that
matter most: ``make demo`` (editable, root, relative) and a new user's first run (wheel, elsewhere,
relative).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import site
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.polling import wait_until
from vaxdrill.loadtest.procs import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

Case = tuple[str, str, str]  # install, where, paths
FULL: list[Case] = list(itertools.product(("editable", "wheel"), ("root", "elsewhere"), ("relative", "absolute")))
HALF: list[Case] = [
    ("editable", "root", "relative"),
    ("editable", "elsewhere", "absolute"),
    ("wheel", "root", "absolute"),
    ("wheel", "elsewhere", "relative"),
]
PAIR: list[Case] = [("editable", "root", "relative"), ("wheel", "elsewhere", "relative")]

# A small scenario with its sites in a CSV beside it (a path inside the scenario), a short open
# load, a ladder of two short steps, and a fault plan of its own (`serve --faults` takes the file).
SCENARIO = """
name: matrix
seed: 5
replications: 2
sites_csv: sites.csv
site_defaults: {district: Raigad, state: Maharashtra, opens: "09:00", closes: "11:00"}
policies:
  wait: {rule: wait}
load:
  shape: open
  duration: 3s
  arrival_rate: 4
  mix: {citizen: 1, vaccinator: 0, slot_watcher: 1}
  think_time: {citizen: "uniform(20ms, 60ms)"}
  open: {max_users: 20}
  steps: {start_rate: 4, step_rate: 4, max_rate: 8, step_duration: 2s, warmup: 0.5s, bisections: 0}
faults:
  - {kind: latency, at: 1s, duration: 1s, latency: 10ms, routes: ["/api/v2/*"]}  # fits the 3 s load
"""
SITES_CSV = "name,kind,booked,pincode\nSite A,urban,40,402201\nSite B,rural,30,402107\n"


@dataclass(frozen=True)
class Install:
    """Where an install's ``vaxdrill`` and ``python`` are."""

    bin: Path

    def vaxdrill(self, *args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "vaxdrill"), *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip


def _copy_sources(target: Path) -> None:
    """What the sdist carries (pyproject.toml, setup.py, MANIFEST.in, packages, scenarios/)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    for name in ("vaxdrill", "simulation", "regserver", "locustfiles", "scenarios"):
        shutil.copytree(ROOT / name, target / name, ignore=ignore)


EDITABLE = Install(Path(sys.executable).parent)  # this environment: `make install`, editable


@pytest.fixture(scope="session")
def wheel_install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    """One wheel, built from a copy of the sources, installed into one fresh virtual environment."""
    work = tmp_path_factory.mktemp("wheel")
    src, dist, venv = work / "src", work / "dist", work / "venv"
    src.mkdir()
    _copy_sources(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
                   check=True, capture_output=True, cwd=work, timeout=240)  # fmt: skip
    (wheel,) = dist.glob("vaxdrill-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
                   check=True, capture_output=True, cwd=work, timeout=240)  # fmt: skip
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, cwd=work).stdout.strip()  # fmt: skip
    # The dependencies, from this environment: plain folders (their .pth files, the editable finder
    # among them, are not run), after the wheel's own site-packages.
    (Path(purelib) / "zz-test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    probe = "import vaxdrill, locustfiles; print(vaxdrill.__file__, locustfiles.__file__)"
    where = subprocess.run([str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=work)
    assert all(Path(p).is_relative_to(venv) for p in where.stdout.split()), where.stdout
    return Install(venv / "bin")


@pytest.fixture
def case_folder(tmp_path: Path) -> Path:
    """An unrelated folder holding the user's scenario (``co.yaml``) and its sites CSV."""
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "co.yaml").write_text(textwrap.dedent(SCENARIO), encoding="utf-8")
    (folder / "sites.csv").write_text(SITES_CSV, encoding="utf-8")
    return folder


@dataclass
class Run:
    """One case: the install, the working folder, and how paths are written."""

    install: Install
    cwd: Path
    folder: Path  # where the user's files are
    relative: bool

    def arg(self, path: Path) -> str:
        return os.path.relpath(path, self.cwd) if self.relative else str(path)

    def vaxdrill(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return self.install.vaxdrill(*args, cwd=self.cwd, timeout=timeout)


@pytest.fixture
def run(request: pytest.FixtureRequest, case_folder: Path) -> Run:
    install_kind, where, paths = request.param
    install = (
        request.getfixturevalue("wheel_install") if install_kind == "wheel" else Install(Path(sys.executable).parent)
    )
    return Run(install, ROOT if where == "root" else case_folder, case_folder, paths == "relative")


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.parametrize("run", FULL, indirect=True, ids="-".join)
def test_validate(run: Run) -> None:
    result = run.vaxdrill("validate", run.arg(run.folder / "co.yaml"), "raigad-2021-01-16")
    _ok(result)
    assert "matrix: 2 site(s)" in result.stdout and "raigad-2021-01-16: 4 site(s)" in result.stdout


@pytest.mark.parametrize("run", HALF, indirect=True, ids="-".join)
def test_simulate_then_compare(run: Run) -> None:
    outs = [run.folder / "sim-a", run.folder / "sim-b"]
    for seed, out in zip(("1", "2"), outs, strict=True):
        _ok(run.vaxdrill("simulate", run.arg(run.folder / "co.yaml"), "--seed", seed, "--out", run.arg(out)))
        assert json.loads((out / "summary.json").read_text())["scenario"] == "matrix"
    result = run.vaxdrill("compare", *(run.arg(o) for o in outs), "--json", run.arg(run.folder / "cmp.json"))
    _ok(result)
    assert "policies.wait.vaccinated" in json.loads((run.folder / "cmp.json").read_text())["metrics"]


@pytest.mark.parametrize("run", HALF, indirect=True, ids="-".join)
def test_serve(run: Run) -> None:
    port = free_port()
    db = run.folder / "server.db"
    db_url = f"sqlite:///{run.arg(db)}"
    cmd = [str(run.install.bin / "vaxdrill"), "serve", "--port", str(port), "--db", db_url,
           "--seed-data", run.arg(run.folder / "co.yaml"), "--faults", run.arg(run.folder / "co.yaml")]  # fmt: skip
    with (run.folder / "serve.log").open("w+") as log:
        proc = subprocess.Popen(cmd, cwd=run.cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:

            def ready() -> bool:
                assert proc.poll() is None, (run.folder / "serve.log").read_text()
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(ready, timeout=60, what="the server answering /ready")
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=30)
        text = (run.folder / "serve.log").read_text()
    assert "seeded 2 centre(s)" in text and "fault plan: 1 fault(s)" in text, text
    assert db.is_file()


@pytest.mark.parametrize("run", HALF, indirect=True, ids="-".join)
def test_loadtest(run: Run) -> None:
    out = run.folder / "lt"
    _ok(run.vaxdrill("loadtest", run.arg(run.folder / "co.yaml"), "--out", run.arg(out)))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["requests"] > 0 and (out / "locust_stats.csv").is_file() and (out / "report.html").is_file()


@pytest.mark.parametrize("run", PAIR, indirect=True, ids="-".join)
def test_capacity(run: Run) -> None:
    out = run.folder / "cap"
    result = run.vaxdrill("capacity", run.arg(run.folder / "co.yaml"), "--out", run.arg(out))
    assert result.returncode in (0, 99), result.stdout[-3000:] + result.stderr[-3000:]  # 99: no step met the SLOs
    assert json.loads((out / "capacity.json").read_text())["steps"]


@pytest.mark.parametrize("run", PAIR, indirect=True, ids="-".join)
def test_drill(run: Run) -> None:
    out = run.folder / "drill"
    _ok(run.vaxdrill("drill", run.arg(run.folder / "co.yaml"), "--no-browser", "-n", "2", "--duration", "3s",
                     "--out", run.arg(out), timeout=280))  # fmt: skip
    for name in ("report.html", "summary.json", "loadtest/summary.json", "simulation-measured/summary.json"):
        assert (out / name).is_file(), name


def test_a_wheel_install_ships_the_scenarios_and_the_locustfile(wheel_install: Install, tmp_path: Path) -> None:
    listed = wheel_install.vaxdrill("examples", cwd=tmp_path)
    _ok(listed)
    assert "raigad-2021-01-16" in listed.stdout and "district-typical-day" in listed.stdout
    _ok(wheel_install.vaxdrill("examples", "copy", "district-typical-day", "mine", cwd=tmp_path))
    assert {p.name for p in (tmp_path / "mine").iterdir()} == {
        "district-typical-day.yaml",
        "district-typical-day-sites.csv",
    }
    _ok(wheel_install.vaxdrill("validate", "mine/district-typical-day.yaml", cwd=tmp_path))
    locustfile = Path(wheel_install.vaxdrill("locustfile", cwd=tmp_path).stdout.strip())
    assert locustfile.is_file() and locustfile.is_relative_to(wheel_install.bin.parent)
    # Plain Locust loads it (and its default scenario, a shipped one) from the wheel alone.
    listed_users = subprocess.run([str(wheel_install.bin / "python"), "-m", "locust", "-f", str(locustfile), "--list"],
                                  capture_output=True, text=True, cwd=tmp_path, timeout=120)  # fmt: skip
    assert listed_users.returncode == 0, listed_users.stderr[-3000:]
    assert "Citizen" in listed_users.stdout, listed_users.stdout


def test_a_run_that_failed_says_so_and_does_not_block_the_retry(tmp_path: Path) -> None:
    """A load test whose server cannot start (a fault plan that is not one) fails before any result."""
    install = EDITABLE
    (tmp_path / "co.yaml").write_text(textwrap.dedent(SCENARIO), encoding="utf-8")
    (tmp_path / "sites.csv").write_text(SITES_CSV, encoding="utf-8")
    (tmp_path / "bad-faults.yaml").write_text("just text\n", encoding="utf-8")
    failed = install.vaxdrill("loadtest", "co.yaml", "--out", "lt", "--server-arg=--faults=bad-faults.yaml",
                              cwd=tmp_path)  # fmt: skip
    assert failed.returncode == 3, failed.stdout + failed.stderr
    manifest = json.loads((tmp_path / "lt" / "run.json").read_text())
    assert manifest["failure"]["exit_code"] == 3 and "bad-faults.yaml" in manifest["failure"]["reason"]
    assert not (tmp_path / "lt" / "summary.json").exists()
    # The same command again: the failed attempt does not block it (and here it fails the same way).
    again = install.vaxdrill("loadtest", "co.yaml", "--out", "lt", "--server-arg=--faults=bad-faults.yaml",
                             cwd=tmp_path)  # fmt: skip
    assert again.returncode == 3 and "never overwritten" not in again.stderr, again.stderr
