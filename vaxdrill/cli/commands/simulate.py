"""``vaxdrill simulate``: compare fallback policies on a scenario's session sites.

Runs every policy of the scenario (or those named with ``--policy``) for N replications with
common random numbers, shows progress, prints a table of the main metrics with 95% intervals and
writes ``summary.json``, CSVs, PNG plots and ``report.html`` to the run's results folder.
"""

from __future__ import annotations

import difflib
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vaxdrill.cli.paths import ScenarioArg
from vaxdrill.cli.tables import fit_or_stack
from vaxdrill.core.errors import SimulationError
from vaxdrill.core.results import RunFolder, write_json
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.cost import check_budget

# A terminal keeps its own width; a pipe or a CI log gets COLUMNS or 80, and the table stacks if wider.
out = Console(soft_wrap=True)


def _stat(node: dict[str, Any] | None, share: bool = False) -> str:
    from simulation.experiment import format_interval

    return format_interval(node, share, floor=0.0)  # every column is a count or a time


def simulate(
    scenario_path: ScenarioArg,
    replications: Annotated[
        int | None, typer.Option("--replications", "-n", min=1, help="Replications (default: the scenario's).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Root seed (default: the scenario's).")] = None,
    policy: Annotated[
        list[str] | None, typer.Option("--policy", "-p", help="Policy to run; repeat for several (default: all).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Worker processes for replications.")] = 1,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write results to this (new or empty) folder.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Run even when the run's estimated time or memory is over budget.")
    ] = False,
    flip_check: Annotated[
        bool,
        typer.Option(
            "--flip-check", help="Run again with every site's at_close the other way; say whether the answer flips."
        ),
    ] = False,
) -> None:
    """Compare offline-fallback policies on the scenario's session sites (replicated, with CRN)."""
    from simulation.acrosssites import write_across_sites
    from simulation.experiment import choose_policies, run_replications, summary
    from simulation.outputs import write_csvs, write_plots
    from simulation.planner import planner_document
    from vaxdrill.report.simulation import write_report

    scenario = load_scenario(scenario_path)
    if not scenario.sites:
        raise SimulationError(f"{scenario_path}: the scenario has no `sites` (nor `sites_csv`); nothing to simulate")
    try:
        names = choose_policies(scenario, policy)
    except KeyError as exc:
        unknown = str(exc.args[0])
        known = list(scenario.policies) or ["wait"]
        close = difflib.get_close_matches(unknown, known, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        raise SimulationError(
            f"--policy {unknown}: no such policy in {scenario_path} (policies: {', '.join(known)}){hint}"
        ) from None
    n = replications or scenario.replications
    root = scenario.seed if seed is None else seed
    check_budget(scenario, n, len(names), workers, force)
    run = RunFolder.create(scenario, "simulate", root, out=out_dir)
    booked = sum(s.booked for s in scenario.sites)
    out.print(
        f"simulating [bold]{scenario.name}[/bold]: {len(scenario.sites)} site(s), {booked} booked, "
        f"policies {', '.join(names)}; {n} replication(s), seed {root}, {workers} worker(s)",
        highlight=False,
    )
    with Progress(
        TextColumn("replications"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=out
    ) as progress:
        task = progress.add_task("replications", total=n)
        results = run_replications(scenario, n, root, names, workers, on_done=lambda _r: progress.advance(task))
    doc = summary(scenario, results, root).to_json()
    write_json(run.path / "summary.json", doc)
    planner = planner_document(scenario, results, root, flip_check)
    write_json(run.path / "planner.json", planner)
    write_csvs(run.path, scenario, results)
    write_plots(run.path, scenario, results)
    write_across_sites(run.path, scenario, results)
    write_report(run.path, scenario, doc, planner)
    run.finish(replications=n, policies=names, workers=workers, argv_text=shlex.join(sys.argv))

    cols = [("vaccinated", "vaccinated")] + [(f"vaccinated_by.{c}", f"by {c}") for c in doc["checkpoints"]]
    cols += [
        ("wait_minutes.mean", "wait min"),
        ("turned_away", "turned away"),
        ("doses_wasted", "wasted"),
        ("backlog_at_close", "backlog at close"),
    ]
    rows = []
    for name, node in doc["policies"].items():
        cells = [name]
        for key, _ in cols:
            cur: Any = node
            for part in key.split("."):
                cur = cur.get(part) if isinstance(cur, dict) else None
            cells.append(_stat(cur))
        rows.append(cells)
    title = f"{scenario.name}: means and 95% intervals over {n} replication(s)"
    out.print(fit_or_stack(out, title, ["policy", *(label for _, label in cols)], rows))
    # Sentences wrap at word boundaries to the terminal's width (80 columns when piped to a file);
    # paths and commands elsewhere stay on one line (soft_wrap) so they can be copied.
    out.print(f"[bold]{doc['answer']}[/bold]", highlight=False, soft_wrap=False)
    out.print(planner["sentence"], highlight=False, soft_wrap=False)
    out.print(f"results: {run.path}/ (summary.json, planner.json, report.html, CSVs, plots)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
