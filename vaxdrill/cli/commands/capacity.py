"""``vaxdrill capacity SCENARIO``: the highest arrival rate the server sustains within its SLOs.

An open-model ladder (``load.steps``) with each step's warm-up left out; the first step that
breaches an SLO (or cannot start its arrivals) ends the climb; bisection refines between the last
good and first bad rate. Then the Universal Scalability Law is fitted to throughput against
concurrency, and Little's law is checked on every step. Writes ``capacity.json`` and
``capacity.png`` in the run's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vaxdrill.cli.commands.loadtest import (
    AllowHost,
    HostOption,
    allowed_hosts,
    announce,
    check_fault_plan,
    load_for_run,
    locustfile_for,
    out,
    read_raw,
    run_locust,
    target,
)
from vaxdrill.cli.paths import ScenarioArg
from vaxdrill.core.documents import CapacityResult
from vaxdrill.core.errors import ExitCode, ProcessFailed, SlosFailed
from vaxdrill.core.results import RunFolder, write_json
from vaxdrill.core.scenario.loadplan import LoadProfile
from vaxdrill.core.scenario.units import format_duration
from vaxdrill.loadtest.procs import LocustRun
from vaxdrill.loadtest.target import check_target


def register(app: typer.Typer) -> None:
    @app.command()
    def capacity(
        scenario_path: ScenarioArg,
        host: HostOption = None,
        locustfile: Annotated[
            Path | None,
            typer.Option("-f", "--locustfile", help="A plain Locust file to run instead of the built-in journeys."),
        ] = None,
        out_dir: Annotated[Path | None, typer.Option("--out", help="Results folder.")] = None,
        server_arg: Annotated[
            list[str] | None, typer.Option(help="Extra option for the started server (repeatable).")
        ] = None,
        allow_host: AllowHost = None,
    ) -> None:
        """Capacity search: open-model step ladder, bisection, USL fit, Little's law per step."""
        from vaxdrill.loadtest import plots
        from vaxdrill.loadtest.capacity import fit_usl
        from vaxdrill.loadtest.shapes import ladder

        scenario = load_for_run(scenario_path)
        allowed = allowed_hosts(scenario, allow_host)
        if host is not None:
            check_target(host, allowed)  # before anything starts: a refused host is sent nothing
        user_file = locustfile_for(scenario, scenario_path, locustfile, host)
        load = scenario.load or LoadProfile()
        plan = load.steps
        worst = (len(ladder(plan)) + plan.bisections) * plan.step_duration
        folder = RunFolder.create(scenario, "capacity", scenario.seed, out=out_dir)
        with target(host, scenario_path, folder.path, list(server_arg or []), allowed) as url:
            check_fault_plan(scenario, url)
            run = LocustRun(host=url, scenario=scenario_path, folder=folder.path, mode="capacity",
                            time_limit=worst + 30, locustfile=user_file, faults=bool(scenario.faults))  # fmt: skip
            announce(url, load, "capacity")
            code = run_locust(run, worst, f"{scenario.name}: capacity search on {url}")
        raw = read_raw(folder.path, run, code)
        cap: dict[str, Any] | None = raw.get("capacity")
        if not cap:
            raise ProcessFailed(f"the capacity search did not finish:\n{run.log_tail()}")
        steps = cap["steps"]
        good = [s for s in steps if s["sustainable"]]
        fit = fit_usl([s["concurrency"] for s in steps], [s["throughput"] for s in steps])
        best = max(good, key=lambda s: s["rate"]) if good else None
        document = CapacityResult.model_validate({
            "schema": CapacityResult.SCHEMA,
            "scenario": scenario.name,
            "host": url,
            "max_sustainable_rate": best["rate"] if best else None,
            "concurrency_at_max": best["concurrency"] if best else None,
            "first_breach_rate": cap["first_breach"],
            "step_duration_s": plan.step_duration,
            "warmup_s": plan.warmup,
            "steps": steps,
            "usl": fit.as_json() if fit else None,
            "little_ok": all(s["little"]["ok"] for s in steps if s["throughput"] > 0),
            "description": cap["description"],
        })  # fmt: skip
        result = document.to_json()
        write_json(folder.path / "capacity.json", result)
        plots.capacity(steps, fit, folder.path / "capacity.png", f"{scenario.name}: capacity")
        folder.finish(max_sustainable_rate=result["max_sustainable_rate"], host=url)
        table = Table(title=f"capacity steps ({format_duration(plan.step_duration)}, warm-up excluded)")
        for col in ("phase", "rate/s", "X/s", "N", "mean ms", "p95 ms", "errors", "dropped", "Little err", "SLO"):
            table.add_column(col, justify="right")
        for s in steps:
            table.add_row(
                s["phase"], f"{s['rate']:.1f}", f"{s['throughput']:.1f}", f"{s['concurrency']:.2f}",
                f"{s['mean_ms']:.1f}", f"{s['p95_ms']:.1f}", f"{s['error_rate']:.1%}", str(s["dropped"]),
                f"{s['little']['rel_error']:.0%}", "[green]ok[/]" if s["sustainable"] else "[red]breach[/]",
            )  # fmt: skip
        out.print(table)
        out.print(cap["description"], highlight=False)
        if fit:
            peak = (
                f"peak {fit.peak_x:.1f}/s at N={fit.peak_n:.1f}" if fit.peak_n and fit.peak_x else "no peak (kappa 0)"
            )
            out.print(
                f"USL: sigma={fit.sigma:.4f} kappa={fit.kappa:.5f} lambda={fit.lam:.2f}/s, {peak}, R²={fit.r2:.3f}"
            )
        out.print(f"results: {folder.path}", highlight=False)
        if best is None:
            raise SlosFailed(ExitCode.SLO_FAILED, "not even the first step met the SLOs")
