"""``vaxdrill sweep``: the scenario's policies across a grid or a sample of parameter values.

Also the pieces ``sensitivity`` and ``optimise`` share: the scenario with sites, the backend
(``--workers`` local processes or ``--dask ADDRESS``) and a progress bar that works for both.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vaxdrill.core.errors import ParameterError, SimulationError
from vaxdrill.core.results import RunFolder, write_json
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.model import Scenario

if TYPE_CHECKING:
    from simulation.explore.backends import Backend
    from simulation.explore.space import Sample

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)

Workers = Annotated[
    int,
    typer.Option(
        "--workers", "-w", min=1, help="Tasks at once on this machine: this process and K-1 worker processes."
    ),
]
Dask = Annotated[
    str | None,
    typer.Option("--dask", metavar="ADDRESS", help="Run on a dask.distributed scheduler (tcp://host:8786)."),
]
Replications = Annotated[int | None, typer.Option("--replications", "-n", min=1, help="Replications per point.")]
Seed = Annotated[int | None, typer.Option("--seed", min=0, help="Root seed (default: the scenario's).")]
OutDir = Annotated[Path | None, typer.Option("--out", help="Write results to this (new or empty) folder.")]
ScenarioArg = Annotated[Path, typer.Argument(metavar="SCENARIO", help="Scenario YAML file.")]


def scenario_with_sites(path: Path) -> Scenario:
    scenario = load_scenario(path)
    if not scenario.sites:
        raise SimulationError(f"{path}: the scenario has no `sites` (nor `sites_csv`); nothing to simulate")
    return scenario


@contextmanager
def backend_for(workers: int, dask: str | None) -> Iterator[Backend]:
    """The backend asked for, closed afterwards; ``--workers`` and ``--dask`` exclude each other."""
    from simulation.explore.backends import make_backend

    if dask and workers != 1:
        raise ParameterError("--workers and --dask: give one (the cluster's workers do the work with --dask)")
    backend = make_backend(workers, dask)
    try:
        yield backend
    finally:
        backend.close()


@contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[], None]]:
    """A bar that advances once per task (a replication of a variant), whichever backend runs it."""
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=out) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def where(backend: Backend) -> str:
    return f"{backend.name}, {backend.workers} worker(s)"


def sweep(
    scenario_path: ScenarioArg,
    param: Annotated[
        list[str],
        typer.Option("--param", help="PATH=VALUES: 15min,30min,60min or 15min..2h:15min; repeat for several."),
    ],
    sample: Annotated[str, typer.Option("--sample", help="grid, lhs or sobol.")] = "grid",
    points: Annotated[int | None, typer.Option("--points", min=1, help="Points for lhs or sobol (default 16).")] = None,
    replications: Replications = None,
    seed: Seed = None,
    policy: Annotated[list[str] | None, typer.Option("--policy", "-p", help="Policy to run (default: all).")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Metric the answer compares policies on.")] = "vaccinated",
    workers: Workers = 1,
    dask: Dask = None,
    out_dir: OutDir = None,
) -> None:
    """Run the scenario's policies over a grid or sample of parameter values (common random numbers)."""
    from simulation.explore.plots import write_sweep_plots
    from simulation.explore.space import design, parse_parameter
    from simulation.explore.sweep import (
        check_metric,
        document,
        known_policies,
        metric_names,
        run_sweep,
        write_points_csv,
    )
    from vaxdrill.core.documents import SweepSummary
    from vaxdrill.report.sweep import write_sweep_report

    if sample not in ("grid", "lhs", "sobol"):
        raise ParameterError(f"--sample {sample}: expected grid, lhs or sobol")
    scenario = scenario_with_sites(scenario_path)
    params = [parse_parameter(scenario, spec) for spec in param]
    if len({p.path for p in params}) != len(params):
        raise ParameterError("--param: a path is given twice")
    names = known_policies(scenario, policy)
    n = replications or scenario.replications
    root = scenario.seed if seed is None else seed
    chosen = cast("Sample", sample)
    check_metric(metric, metric_names(scenario, names[0]))
    count = len(design(params, chosen, points, root))
    with backend_for(workers, dask) as backend:
        run = RunFolder.create(scenario, "sweep", root, out=out_dir)
        out.print(
            f"sweeping [bold]{scenario.name}[/bold]: {count} point(s) x {n} replication(s), policies "
            f"{', '.join(names)}, seed {root}; on {where(backend)}",
            highlight=False,
        )
        with progress("replications", count * n) as done:
            result = run_sweep(scenario, params, chosen, points, n, root, names, backend, done)
        doc = SweepSummary.model_validate(document(result, metric)).to_json()
        write_json(run.path / "summary.json", doc)
        write_points_csv(run.path / "points.csv", result)
        write_sweep_plots(run.path, result, metric)
        write_sweep_report(run.path, doc, where(backend))
        run.finish(backend=backend.name, workers=backend.workers, argv_text=shlex.join(sys.argv))
    out.print(f"[bold]{doc['answer']}[/bold]", highlight=False)
    out.print(f"results: {run.path}/ (summary.json, points.csv, report.html, plots)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
