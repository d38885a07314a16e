"""``vaxdrill drill SCENARIO``: the whole dry run, both audiences, one report.

Exit codes (:class:`~vaxdrill.core.errors.ExitCode`): 0 when the drill ran (failed SLOs are
findings, shown in the verdict; ``--strict`` turns them into exit 99 or 97); 98 when the integrity
check found a lost or duplicated dose record; 2 for a user's mistake; 3 when a phase failed.
"""

from __future__ import annotations

import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vaxdrill.cli.drill import FINDINGS, Phase, check, measured_scenario, plain, read_phase_document, run_phase
from vaxdrill.cli.paths import ScenarioArg
from vaxdrill.core.documents import DrillSummary, LoadTestSummary, ServerProfileDocument, SimulationSummary
from vaxdrill.core.errors import BrowserUnavailable, DrillFailed, ExitCode, VaxdrillError
from vaxdrill.core.results import RunFolder, write_json
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.cost import check_budget
from vaxdrill.core.version import __version__
from vaxdrill.report.drill import build_report, engineer_verdict

out = Console(soft_wrap=True)


def _vaxdrill(*args: str) -> list[str]:
    # -P: the current folder is not put on sys.path; each phase runs the installed vaxdrill.
    return [sys.executable, "-P", "-m", "vaxdrill", *args]


def drill(
    scenario_path: ScenarioArg,
    replications: Annotated[
        int | None,
        typer.Option("--replications", "-n", min=1, help="Simulation replications (default: min(20, the scenario's))."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Root seed (default: the scenario's).")] = None,
    duration: Annotated[str | None, typer.Option(help="Load-test length, e.g. 60s (default: the scenario's).")] = None,
    workers: Annotated[int, typer.Option(min=0, max=64, help="Locust worker processes (0 = one process).")] = 0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Results folder (default results/<time>-<name>).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit non-zero (99/97) when an SLO failed.")] = False,
    browser: Annotated[bool, typer.Option(help="Check the report in headless Chromium and screenshot it.")] = True,
    toxiproxy: Annotated[
        str | None, typer.Option(help="Loopback URL of a running Toxiproxy for the network faults (see loadtest).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Simulate even when the estimated time or memory is over budget.")
    ] = False,
) -> None:
    """Simulate the policies, load-test the reference server with the fault plan, calibrate, report."""
    started = time.monotonic()
    scenario = load_scenario(scenario_path)
    if not scenario.sites:
        raise VaxdrillError(f"{scenario_path}: the drill needs `sites` (the simulation and the server's seed data)")
    reps = replications or min(20, scenario.replications)
    root = scenario.seed if seed is None else seed
    # Checked before anything starts; both simulation phases run the same sites, policies and replications.
    check_budget(scenario, reps, max(len(scenario.policies), 1), force=force)
    run = RunFolder.create(scenario, "drill", root, out=out_dir)
    folder = run.path
    logs = folder / "logs"
    logs.mkdir()
    out.print(f"drill [bold]{scenario.name}[/bold] -> {folder}", highlight=False)

    done: list[Phase] = []

    def phase(name: str, argv: list[str], sub: str, allowed: set[int]) -> Phase:
        step = Phase(name, folder / sub, argv)
        done.append(step)
        log = logs / f"{name}.log"
        with out.status(f"{name} ...", spinner="dots") as status:
            code = run_phase(step, log, on_line=lambda line: status.update(f"{name}: {line[:100]}"))
        check(step, code, log, allowed)
        out.print(f"[green]done[/green] {name} in {step.seconds:.0f} s (exit {code}; log {log})", highlight=False)
        return step

    seed_args = ["--seed", str(root), "--replications", str(reps), *(["--force"] if force else [])]
    phase("simulation", _vaxdrill("simulate", str(scenario_path), *seed_args, "--out", str(folder / "simulation")),
          "simulation", {0})  # fmt: skip
    load_args = ["--out", str(folder / "loadtest"), "--workers", str(workers)]
    if duration:
        # A shorter drill keeps its fault plan's shape: the faults scale with the run (loadtest --scale-faults).
        load_args += ["--duration", duration, "--scale-faults"]
    if toxiproxy:
        load_args += ["--toxiproxy", toxiproxy]
    lt = phase("loadtest", _vaxdrill("loadtest", str(scenario_path), *load_args), "loadtest", FINDINGS)
    profile_path = folder / "server_profile.json"
    phase("profile", _vaxdrill("profile", str(folder / "loadtest"), "--output", str(profile_path)), ".", {0})
    measured_path = measured_scenario(scenario, profile_path, folder / "scenario-measured.yaml")
    phase("simulation-measured",
          _vaxdrill("simulate", str(measured_path), *seed_args, "--out", str(folder / "simulation-measured")),
          "simulation-measured", {0})  # fmt: skip

    assumed_doc = read_phase_document(folder / "simulation" / "summary.json", SimulationSummary)
    load_doc = read_phase_document(folder / "loadtest" / "summary.json", LoadTestSummary)
    profile_doc = read_phase_document(profile_path, ServerProfileDocument)
    measured_doc = read_phase_document(folder / "simulation-measured" / "summary.json", SimulationSummary)
    assumed, load, profile, measured = plain(assumed_doc), plain(load_doc), plain(profile_doc), plain(measured_doc)
    elapsed = time.monotonic() - started
    facts = [
        ("scenario", f"{scenario.name} ({scenario_path})"),
        ("seed", str(root)),
        ("replications", str(reps)),
        ("vaxdrill", __version__),
        ("python", platform.python_version()),
        ("command", shlex.join(sys.argv)),
        ("results folder", str(folder)),
        ("drill duration", f"{elapsed:.0f} s"),
    ]
    report = build_report(scenario, folder, assumed, load, profile, measured, facts)
    summary = DrillSummary.model_validate({
        "schema": DrillSummary.SCHEMA,
        "scenario": scenario.name,
        "seed": root,
        "planner": assumed_doc.answer if assumed_doc else None,
        "engineer": engineer_verdict(load) if load else None,
        "loadtest_exit_code": lt.exit_code,
        "slos": load_doc.slos if load_doc else None,
        "integrity": load_doc.integrity if load_doc else None,
        "phases": [{"name": p.name, "seconds": round(p.seconds, 1), "exit_code": p.exit_code} for p in done],
    })  # fmt: skip
    write_json(folder / "summary.json", summary.to_json())
    if browser:
        _check_in_browser(report, folder / "report.png")
    run.finish(loadtest_exit_code=lt.exit_code, seconds=round(elapsed, 1))

    out.print()
    if assumed_doc:
        out.print(f"[bold]Planner:[/bold] {assumed_doc.answer}", highlight=False)
    if load:
        out.print(f"[bold]Engineer:[/bold] {engineer_verdict(load)}", highlight=False)
    out.print(f"report: {report}", highlight=False)
    if lt.exit_code == ExitCode.INTEGRITY_FAILED:
        raise DrillFailed(ExitCode.INTEGRITY_FAILED, "integrity check failed: a dose record was lost or duplicated")
    if strict and lt.exit_code not in (ExitCode.OK, None):
        raise DrillFailed(ExitCode(lt.exit_code), f"SLOs failed (load test exit {lt.exit_code}) and --strict was given")


def _check_in_browser(report: Path, screenshot: Path) -> None:
    from vaxdrill.cli.browser import check_page

    try:
        seen = check_page(report, screenshot)
    except BrowserUnavailable as exc:
        out.print(f"[yellow]skipped[/yellow] browser check: {exc}", highlight=False)
        return
    except Exception as exc:  # a browser that fails to start must not lose the drill's results
        out.print(f"[yellow]skipped[/yellow] browser check: Chromium failed: {exc}", highlight=False)
        return
    if seen.ok:
        out.print(f"report checked in headless Chromium: {seen.images} images load, no console error; "
                  f"screenshot {screenshot}", highlight=False)  # fmt: skip
    else:
        out.print(f"[red]report problems[/red]: broken images {seen.broken_images}, "
                  f"console errors {seen.console_errors}", highlight=False)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("drill")(drill)


__all__ = ["register"]
