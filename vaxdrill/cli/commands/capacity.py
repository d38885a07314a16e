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
    LocustfileOption,
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
from vaxdrill.loadtest.faultplan import without_faults
from vaxdrill.loadtest.procs import LocustRun
from vaxdrill.loadtest.target import check_target


def steps_table(steps: list[dict[str, Any]], step_s: float) -> Table:
    """One row per step; offered and served in journeys/s, requests/s beside; fits 80 columns."""
    table = Table(
        title=f"capacity steps of {format_duration(step_s)}, warm-up left out (offered, served: journeys/s)",
        title_justify="left", box=None, padding=(0, 1), pad_edge=False, header_style="bold underline",
    )  # fmt: skip
    heads = ("phase", "offered", "served", "req/s", "in\nflight", "p95\nms", "errors", "dropped", "Little\nerror",
             "SLOs")  # fmt: skip
    for col in heads:
        table.add_column(col, justify="left" if col in ("phase", "SLOs") else "right", no_wrap=True)
    for s in steps:
        little = s["little"]["rel_error"]
        table.add_row(
            "ladder" if s["phase"] == "ladder" else "bisect", f"{s['rate']:.3g}", f"{s['throughput']:.3g}",
            f"{s.get('requests_per_s', 0.0):.3g}", f"{s['concurrency']:.1f}",
            "-" if s["p95_ms"] is None else f"{s['p95_ms']:.0f}", f"{s['error_rate']:.1%}", str(s["dropped"]),
            f"{little:.0%}" if little <= 9.99 else ">999%",
            "[green]met[/]" if s["sustainable"] else "[red]breach[/]",
        )  # fmt: skip
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def capacity(
        scenario_path: ScenarioArg,
        host: HostOption = None,
        locustfile: LocustfileOption = None,
        out_dir: Annotated[Path | None, typer.Option("--out", help="Results folder.")] = None,
        server_arg: Annotated[
            list[str] | None, typer.Option(help="Extra option for the started server (repeatable).")
        ] = None,
        allow_host: AllowHost = None,
        with_faults: Annotated[
            bool, typer.Option("--with-faults", help="Apply the scenario's fault plan during the search (off).")
        ] = False,
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
        if not with_faults:
            bare, scenario = without_faults(scenario, folder.path)
            if bare is not None:
                out.print("the scenario's fault plan is left out of the search (--with-faults applies it)")
                scenario_path = bare
        with target(host, scenario_path, folder.path, list(server_arg or []), allowed) as (url, run_secrets):
            check_fault_plan(scenario, url, run_secrets)
            run = LocustRun(host=url, scenario=scenario_path, folder=folder.path, mode="capacity",
                            time_limit=worst + 30, locustfile=user_file, faults=bool(scenario.faults),
                            secrets=run_secrets)  # fmt: skip
            announce(url, load, "capacity")
            code = run_locust(run, worst, f"{scenario.name}: capacity search on {url}")
        raw = read_raw(folder.path, run, code)
        cap: dict[str, Any] | None = raw.get("capacity")
        if not cap:
            raise ProcessFailed(f"the capacity search did not finish:\n{run.log_tail()}")
        steps = cap["steps"]
        good = [s for s in steps if s["sustainable"]]
        # The USL is fitted to good throughput: journeys shed at once (503) are fast, not served.
        fit = fit_usl([s["concurrency"] for s in steps], [s["throughput"] * (1.0 - s["error_rate"]) for s in steps])
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
        out.print(steps_table(steps, plan.step_duration))
        out.print(cap["description"], highlight=False)
        if fit:
            out.print(
                f"USL: {fit.peak_text()}; sigma={fit.sigma:.3g} kappa={fit.kappa:.3g} "
                f"lambda={fit.lam:.3g} journeys/s, R²={fit.r2:.2f}",
                highlight=False,
            )
        out.print(f"results: {folder.path}", highlight=False)
        if best is None:
            raise SlosFailed(ExitCode.SLO_FAILED, "not even the first step met the SLOs")
