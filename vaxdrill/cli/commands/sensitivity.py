"""``vaxdrill sensitivity``: which assumption moves a metric most (SALib: Morris or Sobol')."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated, cast

import typer

from vaxdrill.cli.commands.sweep import (
    Dask,
    OutDir,
    Replications,
    ScenarioArg,
    Seed,
    Workers,
    backend_for,
    out,
    progress,
    scenario_with_sites,
    where,
)
from vaxdrill.core.errors import ParameterError
from vaxdrill.core.results import RunFolder, write_json


def sensitivity(
    scenario_path: ScenarioArg,
    param: Annotated[list[str], typer.Option("--param", help="PATH=LO..HI; repeat for each assumption.")],
    metric: Annotated[str, typer.Option("--metric", help="Metric of the simulation summary, e.g. vaccinated.")],
    method: Annotated[str, typer.Option("--method", help="morris (screening) or sobol (variance shares).")] = "morris",
    trajectories: Annotated[
        int, typer.Option("--trajectories", min=2, help="Morris trajectories, or Sobol' base samples.")
    ] = 8,
    policy: Annotated[str | None, typer.Option("--policy", "-p", help="Policy (default: the first).")] = None,
    replications: Replications = None,
    seed: Seed = None,
    workers: Workers = 1,
    dask: Dask = None,
    out_dir: OutDir = None,
) -> None:
    """Rank the parameters by their effect on a metric, with confidence intervals and a tornado chart."""
    from simulation.explore.plots import TORNADO_PNG, write_tornado
    from simulation.explore.sensitivity import Method, run_sensitivity, samples
    from simulation.explore.space import parse_parameter
    from simulation.explore.sweep import check_metric, known_policies, metric_names
    from vaxdrill.core.documents import SensitivitySummary
    from vaxdrill.report.sweep import write_sensitivity_report

    if method not in ("morris", "sobol"):
        raise ParameterError(f"--method {method}: expected morris or sobol")
    scenario = scenario_with_sites(scenario_path)
    params = [parse_parameter(scenario, spec, ranged=True) for spec in param]
    if len({p.path for p in params}) != len(params):
        raise ParameterError("--param: a path is given twice")
    name = known_policies(scenario, [policy] if policy else None)[0]
    check_metric(metric, metric_names(scenario, name))
    n = replications or scenario.replications
    root = scenario.seed if seed is None else seed
    chosen = cast("Method", method)
    count = len(samples(params, chosen, trajectories, root))
    with backend_for(workers, dask) as backend:
        run = RunFolder.create(scenario, "sensitivity", root, out=out_dir)
        out.print(
            f"sensitivity of [bold]{metric}[/bold] ({name}) in {scenario.name}: {method}, {count} variant(s) x "
            f"{n} replication(s), seed {root}; on {where(backend)}",
            highlight=False,
        )
        with progress("replications", count * n) as done:
            result = run_sensitivity(scenario, params, chosen, metric, name, trajectories, n, root, backend, done)
        doc = SensitivitySummary.model_validate(result.document).to_json()
        write_json(run.path / "summary.json", doc)
        write_tornado(run.path / TORNADO_PNG, doc)
        write_sensitivity_report(run.path, doc)
        run.finish(backend=backend.name, workers=backend.workers, argv_text=shlex.join(sys.argv))
    for row in doc["indices"]:
        values = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("path", "low", "high", "rank"))
        out.print(f"{row['rank']}. {row['path']} ({row['low']}..{row['high']}): {values}", highlight=False)
    out.print(f"[bold]{doc['answer']}[/bold]", highlight=False)
    out.print(f"results: {run.path}/ (summary.json, tornado.png, report.html)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("sensitivity")(sensitivity)
