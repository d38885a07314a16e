"""``vaxdrill optimise``: the cheapest design that meets the targets with confidence (Optuna)."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

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


def optimise(
    scenario_path: ScenarioArg,
    decide: Annotated[list[str], typer.Option("--decide", help="PATH=LO..HI[:STEP] the optimiser chooses.")],
    minimise: Annotated[str, typer.Option("--minimise", help="A path or a sum of paths (a + b), e.g. staff.")],
    subject_to: Annotated[
        list[str] | None, typer.Option("--subject-to", help='"METRIC OP VALUE", e.g. "attainment >= 95%".')
    ] = None,
    confidence: Annotated[
        float, typer.Option("--confidence", min=0.5, max=0.999, help="One-sided confidence a constraint holds with.")
    ] = 0.9,
    trials: Annotated[int, typer.Option("--trials", min=1, help="Designs to try.")] = 30,
    policy: Annotated[str | None, typer.Option("--policy", "-p", help="Policy (default: the first).")] = None,
    replications: Replications = None,
    seed: Seed = None,
    workers: Workers = 1,
    dask: Dask = None,
    out_dir: OutDir = None,
) -> None:
    """Minimise a cost subject to targets on the simulated day; re-check the best design on fresh replications."""
    from simulation.explore.optimise import parse_constraint, parse_objective, planned_trials, run_optimise
    from simulation.explore.plots import PARETO_PNG, write_pareto
    from simulation.explore.space import parse_parameter
    from simulation.explore.sweep import check_metric, known_policies, metric_names
    from vaxdrill.core.documents import OptimiseSummary
    from vaxdrill.report.sweep import write_optimise_report

    scenario = scenario_with_sites(scenario_path)
    params = [parse_parameter(scenario, spec, "--decide", ranged=True) for spec in decide]
    if len({p.path for p in params}) != len(params):
        raise ParameterError("--decide: a path is given twice")
    objective = parse_objective(scenario, minimise)
    constraints = [parse_constraint(text) for text in subject_to or []]
    name = known_policies(scenario, [policy] if policy else None)[0]
    known = metric_names(scenario, name)
    for c in constraints:
        check_metric(c.metric, known, "--subject-to")
    n = replications or scenario.replications
    root = scenario.seed if seed is None else seed
    with backend_for(workers, dask) as backend:
        run = RunFolder.create(scenario, "optimise", root, out=out_dir)
        out.print(
            f"optimising [bold]{scenario.name}[/bold]: minimise {minimise} subject to "
            f"{'; '.join(map(str, constraints)) or 'nothing'} ({confidence:.0%} confidence); {trials} trial(s) x "
            f"{n} replication(s), policy {name}, seed {root}; on {where(backend)}",
            highlight=False,
        )
        with progress("trials", planned_trials(params, trials)) as done:
            doc = run_optimise(
                scenario, params, objective, constraints, name, confidence, trials, n, root, backend, done
            )
        doc = OptimiseSummary.model_validate(doc).to_json()
        write_json(run.path / "summary.json", doc)
        write_pareto(run.path / PARETO_PNG, doc)
        write_optimise_report(run.path, doc)
        run.finish(backend=backend.name, workers=backend.workers, argv_text=shlex.join(sys.argv))
    out.print(f"[bold]{doc['answer']}[/bold]", highlight=False)
    out.print(f"results: {run.path}/ (summary.json, pareto.png, report.html)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("optimise")(optimise)
