"""``vaxdrill loadtest SCENARIO``: a launch-day load test with SLO gates, fault drills, integrity check.

Without ``--host`` it starts the reference server (SQLite, seeded from the scenario) on a free
loopback port, waits for ``/ready`` and stops it afterwards. Locust runs headless as its own
process(es); this command never imports Locust. Exit codes: see :mod:`vaxdrill.loadtest.slo`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vaxdrill.cli.tables import fit_or_stack
from vaxdrill.core.documents import LoadTestSummary
from vaxdrill.core.errors import ExitCode, ProcessFailed, SlosFailed, VaxdrillError
from vaxdrill.core.results import RunFolder, write_json
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.loadplan import LoadProfile
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.units import parse_duration
from vaxdrill.loadtest import progress
from vaxdrill.loadtest import slo as slo_mod
from vaxdrill.loadtest.faultplan import check_fit, fit_faults
from vaxdrill.loadtest.faults import fault_line
from vaxdrill.loadtest.procs import LocustRun, require_loopback
from vaxdrill.loadtest.server_process import ServerProcess

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


@contextlib.contextmanager
def target(host: str | None, scenario_path: Path, folder: Path, server_args: list[str]) -> Iterator[str]:
    """The URL to load: ``--host`` (loopback only) or a reference server started for this run."""
    if host is not None:
        yield require_loopback(host)
        return
    with ServerProcess.for_run(scenario_path, folder, server_args) as server:
        yield server.url


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
        scenario_path: Annotated[Path, typer.Argument(metavar="SCENARIO", help="Scenario YAML file.")],
        host: Annotated[str | None, typer.Option(help="Loopback URL of a running server; default: start one.")] = None,
        duration: Annotated[str | None, typer.Option(help="Override load.duration, e.g. 30s.")] = None,
        workers: Annotated[int, typer.Option(min=0, max=64, help="Locust worker processes (0 = standalone).")] = 0,
        out_dir: Annotated[
            Path | None, typer.Option("--out", help="Results folder (default results/<time>-<name>).")
        ] = None,
        server_arg: Annotated[
            list[str] | None, typer.Option(help="Extra option for the started server (repeatable).")
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
    ) -> None:
        """Launch-day load test: Locust journeys, SLO gates, fault drills, integrity check, summary, report."""
        from vaxdrill.loadtest import plots
        from vaxdrill.loadtest.recorder import Recorder
        from vaxdrill.loadtest.summary import build_summary
        from vaxdrill.report.loadtest import write_report

        scenario = load_for_run(scenario_path)
        seconds = parse_cli_duration(duration)
        if host is not None:
            require_loopback(host)
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
        with target(host, scenario_path, folder.path, list(server_arg or [])) as url:
            closed = (load.users, load.spawn_rate) if load.shape == "constant" else None
            run = LocustRun(host=url, scenario=scenario_path, folder=folder.path, workers=workers, duration=run_seconds,
                            closed_users=closed, time_limit=run_seconds + 30)  # fmt: skip
            code = run_locust(run, run_seconds, f"{scenario.name}: {load.shape} load on {url}")
        raw = read_raw(folder.path, run, code)
        document, results = build_summary(raw, scenario, locust_exit_code=code)
        summary = document.to_json()
        write_json(folder.path / "summary.json", summary)
        rec = Recorder.from_json(raw["recorder"])
        plots.timeline(rec, folder.path / "timeline.png", f"{scenario.name}: {load.shape}", summary["faults"])
        plots.latency_distribution(rec, folder.path / "latency.png", f"{scenario.name}: response times")
        write_report(folder.path, scenario, summary)
        folder.finish(exit_code=document.exit_code, host=url)
        _report(document, results, folder.path)
        if document.exit_code != ExitCode.OK:
            raise SlosFailed(ExitCode(document.exit_code), _why(document))


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
        found = f"{i.lost} lost, {i.duplicated} duplicated, {i.overbooked_sessions} overbooked" if i else "no ledger"
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
    if summary.integrity is not None:
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
    if summary.generator.cpu_saturated:
        out.print("[yellow]warning[/] the load generator's CPU was saturated; latencies may include its own delay")
    out.print(f"results: {folder}", highlight=False)


__all__ = ["register"]
