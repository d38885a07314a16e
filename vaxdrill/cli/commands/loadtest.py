"""``vaxdrill loadtest SCENARIO``: a launch-day load test with SLO gates, fault drills, integrity check.

Without ``--host`` it starts the reference server (SQLite, seeded from the scenario) on a free
loopback port, waits for ``/ready`` and stops it afterwards. A ``--host`` outside this machine needs
an opt-in (``--allow-host``, ``target.allow_hosts``), checked before anything starts. Locust runs
headless as its own process(es): standalone, with ``--workers N`` on this machine, or with
``--master`` as a master alone that workers elsewhere join (``vaxdrill worker``); this command never
imports Locust. Exit codes: see :mod:`vaxdrill.loadtest.slo`; 3 also when a worker was lost.

``-f LOCUSTFILE`` (or ``load.locustfile``) runs a plain locustfile instead of the built-in Co-WIN
journeys, with the same machinery (:mod:`locustfiles.vaxdrill_runner`). A fault plan is checked
against the target before any load: only a target with the fault API takes server faults (else
exit 2); network faults go through the proxy (``--toxiproxy``).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vaxdrill.cli.paths import ScenarioArg
from vaxdrill.cli.tables import fit_or_stack
from vaxdrill.core.documents import LoadTestSummary
from vaxdrill.core.documents.loadtest import VerifiedIntegrity
from vaxdrill.core.errors import (
    ExitCode,
    FaultPlanError,
    PreflightFailed,
    ProcessFailed,
    SlosFailed,
    VaxdrillError,
)
from vaxdrill.core.results import RunFolder, write_json
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.loadplan import LoadProfile
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.units import parse_duration
from vaxdrill.core.secrets import DRILL_SECRETS, DrillSecrets
from vaxdrill.loadtest import progress
from vaxdrill.loadtest import slo as slo_mod
from vaxdrill.loadtest.faultplan import check_fit, fit_faults
from vaxdrill.loadtest.faults import fault_line, fault_plan_error
from vaxdrill.loadtest.network_faults import network_faults
from vaxdrill.loadtest.procs import MASTER_PORT, LocustRun, parse_address, require_loopback
from vaxdrill.loadtest.server_process import ServerProcess
from vaxdrill.loadtest.target import check_target, planned_load
from vaxdrill.loadtest.toxiproxy import Hop, route

out = Console(soft_wrap=True)


def load_for_run(path: Path) -> Scenario:
    scenario = load_scenario(path)
    if scenario.load is None:
        scenario = scenario.model_copy(update={"load": LoadProfile()})
    return scenario


def parse_cli_duration(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise VaxdrillError(f"--duration: {exc}") from None
    if seconds <= 0:
        raise VaxdrillError("--duration: must be above zero")
    return seconds


def locustfile_for(scenario: Scenario, scenario_path: Path, option: Path | None, host: str | None) -> Path | None:
    """The plain locustfile to run: ``-f``, else ``load.locustfile`` (relative to the scenario file);
    ``None`` for the built-in pack."""
    named = scenario.load.locustfile if scenario.load is not None else None
    if option is not None:
        path, where = option, "-f"
    elif named:
        path, where = scenario_path.parent / named, f"{scenario_path}: load.locustfile"
    else:
        return None
    if not path.is_file():
        raise VaxdrillError(f"{where}: {path} is not a file; expected a Locust file (a .py with user classes)")
    if host is None and not scenario.sites:
        raise VaxdrillError(
            f"{where}: a locustfile needs --host, the URL of the system under test "
            "(without --host vaxdrill starts its reference server, which needs the scenario's sites)"
        )
    return path


def check_fault_plan(scenario: Scenario, url: str, run_secrets: DrillSecrets = DRILL_SECRETS) -> None:
    """Before any load: server faults need a target with the fault API (exit 2 otherwise).

    Network faults never do: they are toxics of the proxy in front of the target."""
    server_faults = [f for f in scenario.faults if f.kind != "network"]
    if server_faults:
        problem = fault_plan_error(url, run_secrets.admin_token, len(server_faults))
        if problem is not None:
            raise FaultPlanError(problem)


AllowHost = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-host",
        metavar="HOST",
        help="Opt in to loading HOST, a host outside this machine (repeatable; or target.allow_hosts in the scenario).",
    ),
]
LocustfileOption = Annotated[
    Path | None,
    typer.Option("-f", "--locustfile", help="A plain Locust file to run instead of the built-in journeys."),
]
HostOption = Annotated[
    str | None,
    typer.Option(help="URL of the system to load (outside this machine: needs --allow-host); default: start one."),
]


def allowed_hosts(scenario: Scenario, allow_host: list[str] | None) -> list[str]:
    """The run's opt-ins: the scenario's ``target.allow_hosts`` and every ``--allow-host``."""
    return [*scenario.target.allow_hosts, *(allow_host or [])]


@contextlib.contextmanager
def target(
    host: str | None, scenario_path: Path, folder: Path, server_args: list[str], allow_hosts: list[str] | None = None
) -> Iterator[tuple[str, DrillSecrets]]:
    """The URL to load and the secrets the users log in with: ``--host`` (checked: loopback or opted in)
    with the documented drill secrets, or a reference server started for this run with random ones."""
    if host is not None:
        yield check_target(host, allow_hosts or []), DRILL_SECRETS
        return
    with ServerProcess.for_run(scenario_path, folder, server_args, secrets=DrillSecrets.random()) as server:
        assert server.secrets is not None
        yield server.url, server.secrets


@contextlib.contextmanager
def network_route(url: str, toxiproxy: str | None, scenario: Scenario, folder: Path) -> Iterator[Hop | None]:
    """A proxy in front of ``url`` when the plan has network faults or ``--toxiproxy`` was given, else none."""
    if toxiproxy is None and not network_faults(scenario.faults):
        yield None
        return
    name = "vaxdrill_" + re.sub(r"[^A-Za-z0-9_.-]", "_", folder.name[-24:])  # goes into the API's paths
    with route(url, toxiproxy, folder, name, seed=scenario.seed) as hop:
        where = toxiproxy or f"vaxdrill proxy {hop.api} (log {folder / 'proxy.log'})"
        out.print(f"network faults: load goes through {hop.url} -> {url}, toxics via {where}", highlight=False)
        yield hop


def announce(url: str, load: LoadProfile, mode: str = "loadtest") -> None:
    """Say what is about to be loaded, and how hard, before the first request."""
    out.print(f"target {url}: {planned_load(load, mode)}", highlight=False)


def run_locust(run: LocustRun, expected_s: float, label: str) -> int:
    """Start Locust, show progress until it ends, return its exit code.

    In a terminal: a bar with live req/s, errors and p95 beside it. Otherwise (CI, a pipe): a plain
    progress line every 10 s (:mod:`vaxdrill.loadtest.progress`).
    """
    run.start()
    started = time.monotonic()
    history = run.folder / "locust_stats_history.csv"
    ticker = progress.Ticker()
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TextColumn("{task.fields[live]}"),
                  console=out, transient=True, disable=not out.is_terminal) as bar:  # fmt: skip
        task = bar.add_task(label, total=expected_s, live="")
        if not out.is_terminal:
            out.print(f"{label}: about {expected_s:.0f} s", highlight=False)
        while run.poll() is None:
            elapsed = time.monotonic() - started
            if elapsed > run.time_limit + 90:
                run.stop()
                raise ProcessFailed(f"Locust ran past its time limit; stopped it:\n{run.log_tail()}")
            live = progress.read_live(history)
            bar.update(task, completed=min(elapsed, expected_s), live=live.text() if live else "")
            if not out.is_terminal and ticker.due(elapsed):
                out.print(progress.progress_line(elapsed, expected_s, live), highlight=False)
            time.sleep(0.25)
    return run.wait(timeout=60)


def read_raw(folder: Path, run: LocustRun, code: int) -> dict[str, Any]:
    raw_path = folder / "drill-raw.json"
    stopped = folder / "could-not-run.txt"  # the Locust process stopped before the load (exit 2 or 3)
    if not raw_path.exists() and stopped.exists():
        status, _, line = stopped.read_text(encoding="utf-8").strip().partition(" ")
        line = line.removeprefix("vaxdrill: ")
        raise FaultPlanError(line) if status == str(int(ExitCode.USER_ERROR)) else PreflightFailed(line)
    if not raw_path.exists():
        raise ProcessFailed(f"Locust exited with {code} without writing its results:\n{run.log_tail()}")
    data: dict[str, Any] = json.loads(raw_path.read_text())
    return data


def slo_table(results: list[slo_mod.SloResult]) -> Table:
    table = Table(title="SLOs (full-precision latencies, merged across workers)")
    for col in ("SLO", "limit", "observed", "result"):
        table.add_column(col)
    for name, limit, observed, verdict in slo_mod.table_rows(results):
        table.add_row(name, limit, observed, f"[green]{verdict}[/]" if verdict == "PASS" else f"[red]{verdict}[/]")
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def loadtest(
        scenario_path: ScenarioArg,
        host: HostOption = None,
        locustfile: LocustfileOption = None,
        duration: Annotated[str | None, typer.Option(help="Override load.duration, e.g. 30s.")] = None,
        workers: Annotated[int, typer.Option(min=0, max=64, help="Locust worker processes (0 = standalone).")] = 0,
        out_dir: Annotated[
            Path | None, typer.Option("--out", help="Results folder (default results/<time>-<name>).")
        ] = None,
        server_arg: Annotated[
            list[str] | None, typer.Option(help="Extra option for the started server (repeatable).")
        ] = None,
        toxiproxy: Annotated[
            str | None,
            typer.Option(
                help="Loopback URL of a running Toxiproxy (or `vaxdrill proxy`) API for the network faults; "
                "default: start `vaxdrill proxy` when the fault plan has network faults.",
            ),
        ] = None,
        scale_faults: Annotated[
            bool,
            typer.Option("--scale-faults", help="Rescale the fault plan to fit --duration (else a misfit is exit 2)."),
        ] = False,
        from_simulation: Annotated[
            bool,
            typer.Option(
                "--from-simulation",
                help="Replay the simulated day: an open-model arrival curve derived from the scenario's simulation.",
            ),
        ] = False,
        allow_host: AllowHost = None,
        master: Annotated[
            bool, typer.Option("--master", help="Run Locust's master only; workers join with `vaxdrill worker`.")
        ] = False,
        expect_workers: Annotated[
            int, typer.Option(min=1, max=1000, help="With --master: workers to wait for before starting.")
        ] = 1,
        bind: Annotated[
            str, typer.Option(metavar="HOST:PORT", help="With --master: where the master listens for workers.")
        ] = f"127.0.0.1:{MASTER_PORT}",
        allow_worker_loss: Annotated[
            bool, typer.Option("--allow-worker-loss", help="Accept a run that lost a worker (else exit 3).")
        ] = False,
    ) -> None:
        """Launch-day load test: Locust journeys, SLO gates, fault drills, integrity check, summary, report."""
        from vaxdrill.loadtest import plots
        from vaxdrill.loadtest.recorder import Recorder
        from vaxdrill.loadtest.summary import build_summary
        from vaxdrill.report.loadtest import write_report

        scenario = load_for_run(scenario_path)
        seconds = parse_cli_duration(duration)
        allowed = allowed_hosts(scenario, allow_host)
        if host is not None:
            check_target(host, allowed)  # before anything starts: a refused host is sent nothing
        if toxiproxy is not None:
            require_loopback(toxiproxy, "--toxiproxy")
        user_file = locustfile_for(scenario, scenario_path, locustfile, host)
        if master and workers:
            raise VaxdrillError("--master and --workers: choose one (--workers N starts N workers on this machine)")
        if not master and (expect_workers != 1 or bind != f"127.0.0.1:{MASTER_PORT}"):
            raise VaxdrillError("--expect-workers and --bind go with --master")
        master_at = parse_address(bind, "--bind") if master else None
        load = scenario.load or LoadProfile()
        run_seconds = seconds if seconds is not None else load.duration
        if load.shape == "steps":
            from vaxdrill.loadtest.shapes import ladder

            run_seconds = len(ladder(load.steps)) * load.steps.step_duration
        if not from_simulation:
            check_fit(scenario, scenario_path, run_seconds, scale_faults)
        folder = RunFolder.create(scenario, "loadtest", scenario.seed, out=out_dir)
        planned_s = load.duration
        if from_simulation:
            scenario_path, scenario = _from_simulation(scenario, folder, seconds)
            load = scenario.load or load
            run_seconds = load.duration
            # The day squeezed into --duration takes its fault plan with it.
            scale_faults = scale_faults or seconds is not None
        scenario_path, scenario, note = fit_faults(scenario, scenario_path, folder.path, run_seconds, planned_s,
                                                   scale_faults)  # fmt: skip
        if note:
            out.print(note, highlight=False)
        with (
            target(host, scenario_path, folder.path, list(server_arg or []), allowed) as (url, run_secrets),
            network_route(url, toxiproxy, scenario, folder.path) as hop,
        ):
            check_fault_plan(scenario, url, run_secrets)
            closed = (load.users, load.spawn_rate) if load.shape == "constant" else None
            run = LocustRun(host=hop.url if hop else url, scenario=scenario_path, folder=folder.path, workers=workers,
                            duration=run_seconds, closed_users=closed, time_limit=run_seconds + 30,
                            locustfile=user_file, faults=bool(scenario.faults),
                            extra_env=hop.environ() if hop else {}, master=master_at,
                            expect_workers=expect_workers, secrets=run_secrets)  # fmt: skip
            if master_at is not None:
                run.time_limit += run.workers_wait
                _announce_master(master_at, expect_workers, url)
                if host is None:
                    out.print("[yellow]note[/] the reference server started for this run listens on 127.0.0.1: "
                              "only workers on this machine reach it; give --host for workers elsewhere")  # fmt: skip
            announce(url, load)
            via = f" through the proxy {hop.url}" if hop else ""
            code = run_locust(run, run_seconds, f"{scenario.name}: {load.shape} load on {url}{via}")
        raw = read_raw(folder.path, run, code)
        document, results = build_summary(raw, scenario, locust_exit_code=code, allow_worker_loss=allow_worker_loss)
        summary = document.to_json()
        write_json(folder.path / "summary.json", summary)
        rec = Recorder.from_json(raw["recorder"])
        plots.timeline(rec, folder.path / "timeline.png", f"{scenario.name}: {load.shape}", summary["faults"])
        plots.latency_distribution(rec, folder.path / "latency.png", f"{scenario.name}: response times")
        write_report(folder.path, scenario, summary)
        folder.finish(exit_code=document.exit_code, host=url)
        _report(document, results, folder.path)
        if document.could_not_run:
            raise PreflightFailed(f"{document.could_not_run} (results: {folder.path})")
        if document.exit_code == ExitCode.COULD_NOT_RUN:
            raise ProcessFailed(f"{_lost(document)}; the results are incomplete (--allow-worker-loss accepts them)")
        if document.exit_code != ExitCode.OK:
            raise SlosFailed(ExitCode(document.exit_code), _why(document))


def _announce_master(at: tuple[str, int], expected: int, url: str) -> None:
    host, port = at
    out.print(
        f"master listening on {host}:{port}; waiting for {expected} worker(s): vaxdrill worker {host}:{port} "
        f"(each sends its load straight to {url})",
        highlight=False,
    )


def _lost(summary: LoadTestSummary) -> str:
    lost = summary.workers.lost if summary.workers else []
    return "workers lost mid-run: " + ", ".join(f"{w.node} at {w.at_s:g}s ({w.reason})" for w in lost)


def _from_simulation(scenario: Scenario, folder: RunFolder, seconds: float | None) -> tuple[Path, Scenario]:
    """Simulate the day, derive the server's arrival curve, and write the scenario that replays it.

    ``seconds`` (from ``--duration``) compresses the curve further to fit that length.
    """
    from vaxdrill.bridges.arrivals import arrival_curve
    from vaxdrill.core.scenario.dump import dump_scenario

    out.print("simulating the day to derive the arrival curve ...", highlight=False)
    curve = arrival_curve(scenario)
    points = [(float(t), float(rate)) for t, rate in curve["points"]]
    if seconds is not None and points[-1][0] > 0:
        squeeze = seconds / points[-1][0]
        points = [(t * squeeze, rate) for t, rate in points]
        curve["fitted_to_duration_s"] = seconds
        curve["replayed_points"] = [list(p) for p in points]
    write_json(folder.path / "arrival_curve.json", curve)
    base = scenario.load or LoadProfile()
    load = base.model_copy(update={"shape": "open", "curve": points, "duration": points[-1][0]})
    replay = scenario.model_copy(update={"load": load})
    folder.scenario = replay
    path = dump_scenario(
        replay, folder.path / "scenario-from-simulation.yaml",
        f"{scenario.name}: the simulated day's arrival curve, compressed {base.compression:g}x (arrival_curve.json)",
    )  # fmt: skip
    peak = max(rate for _, rate in points)
    out.print(
        f"arrival curve: {len(points)} points over {points[-1][0]:.0f} s, peak {peak:.1f} journeys/s "
        f"(day compressed {base.compression:g}x)",
        highlight=False,
    )
    return path, replay


def _why(summary: LoadTestSummary) -> str:
    """The one line that explains the exit code (its order: README "Exit codes")."""
    code = ExitCode(summary.exit_code)
    if code == ExitCode.INTEGRITY_FAILED:
        i = summary.integrity
        if i is None:
            found = "no ledger"
        elif isinstance(i, VerifiedIntegrity):
            found = f"verifier {i.verifier} failed"
        else:
            found = f"{i.lost} lost, {i.duplicated} duplicated, {i.overbooked_sessions} overbooked"
        return f"integrity check failed: {found}; exit {code.value}"
    failed = "; ".join(slo_mod.breaches([s.model_dump(mode="json") for s in summary.slos]))
    if code == ExitCode.ABORTED:
        return f"run aborted after a sustained SLO breach ({', '.join(summary.breached)}): {failed}; exit {code.value}"
    return f"SLO failed: {failed}; exit {code.value}"


def _ms(value: float | None, unit: str = " ms") -> str:
    if value is None:
        return "-"
    return f"{value:.1f}{unit}" if value < 10 else f"{value:,.0f}{unit}"


def _report(summary: LoadTestSummary, results: list[slo_mod.SloResult], folder: Path) -> None:
    latency = summary.latency_ms
    out.print(
        f"{summary.requests:,} requests, {summary.rps:.1f} requests/s, errors {summary.error_rate:.1%}, "
        f"p95 {_ms(latency.p95)}, p99 {_ms(latency.p99)}",
        highlight=False,
    )
    rows = []
    for name, e in summary.endpoints.items():
        rps = e.requests / summary.duration_s if summary.duration_s else 0.0
        failed = f"{e.failures:,} ({e.failures / e.requests:.0%})" if e.requests and e.failures else f"{e.failures:,}"
        rows.append([name, f"{e.requests:,}", f"{rps:.1f}", failed, _ms(e.p50, ""), _ms(e.p95, ""), _ms(e.p99, "")])
    heads = ["endpoint", "requests", "req/s", "failed", "p50 ms", "p95 ms", "p99 ms"]
    out.print(fit_or_stack(out, "endpoints (latencies from full-precision histograms)", heads, rows))
    if results:
        out.print(slo_table(results))
    for fault in summary.faults:
        out.print(fault_line(fault.model_dump(mode="json"), summary.duration_s), highlight=False, soft_wrap=False)
    if summary.integrity is None:
        out.print("integrity: not checked", highlight=False)
    elif isinstance(summary.integrity, VerifiedIntegrity):
        v = summary.integrity
        out.print(f"integrity ({v.verifier}): {'PASS' if v.passed else 'FAIL'} on {v.entries} ledger entries",
                  highlight=False)  # fmt: skip
    else:
        i = summary.integrity
        out.print(
            f"integrity: {'PASS' if i.passed else 'FAIL'}: {i.doses_recorded} doses given ({i.online} online, "
            f"{i.paper} on paper), {i.server_vaccinations} on the server; {i.lost} lost (given but not recorded), "
            f"{i.duplicated} stored twice, {i.unsynced_at_end} unsynced, {i.overbooked_sessions} sessions overbooked",
            highlight=False,
            soft_wrap=False,  # prose wraps at the console's width (80 columns in a pipe)
        )
    if summary.open_model:
        o = summary.open_model
        out.print(f"open model: {o.scheduled} arrivals, {o.started} started, {o.late} late, "
                  f"{o.dropped} dropped", highlight=False)  # fmt: skip
    if summary.workers is not None:
        w = summary.workers
        out.print(f"workers: {len(w.seen)} joined of {w.expected} expected, {len(w.lost)} lost", highlight=False)
        if w.lost:
            out.print(f"[red]{_lost(summary)}[/]: their last seconds of figures are missing", highlight=False)
    if summary.generator.cpu_saturated:
        out.print("[yellow]warning[/] the load generator's CPU was saturated; latencies may include its own delay")
    out.print(f"results: {folder}", highlight=False)


__all__ = ["register"]
