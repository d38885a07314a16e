"""``vaxdrill calibrate``: fit unknown parameters to an observed day (Optuna on a Wasserstein distance)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from vaxdrill.cli.commands.sweep import OutDir, Replications, ScenarioArg, Seed, out, progress, scenario_with_sites
from vaxdrill.cli.tables import fit_or_stack
from vaxdrill.core.errors import ParameterError
from vaxdrill.core.results import RunFolder, write_json


def calibrate(
    scenario_path: ScenarioArg,
    observed: Annotated[
        Path, typer.Option("--observed", help="CSV, one row per site: `site` (or `kind`) and the observed metric.")
    ],
    fit: Annotated[
        list[str], typer.Option("--fit", help="PATH=LO..HI to fit, e.g. site_defaults.arrivals.no_show=0..30%.")
    ],
    metric: Annotated[str, typer.Option("--metric", help="attainment or vaccinated.")] = "attainment",
    trials: Annotated[int, typer.Option("--trials", min=2, help="Candidates Optuna tries.")] = 30,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=20, help="Resamples of the observed sites.")] = 200,
    policy: Annotated[str | None, typer.Option("--policy", "-p", help="Policy (default: the first).")] = None,
    replications: Replications = None,
    seed: Seed = None,
    out_dir: OutDir = None,
) -> None:
    """Fit scenario parameters to an observed day, site by site, with 95% bootstrap intervals."""
    from simulation.calibrate import calibrate as run_calibration
    from simulation.calibrate import read_observed, write_plot
    from simulation.explore.space import parse_parameter
    from simulation.explore.sweep import known_policies
    from vaxdrill.core.documents import CalibrateSummary

    scenario = scenario_with_sites(scenario_path)
    params = [parse_parameter(scenario, spec, "--fit", ranged=True) for spec in fit]
    if len({p.path for p in params}) != len(params):
        raise ParameterError("--fit: a path is given twice")
    data = read_observed(observed, scenario, metric)
    name = known_policies(scenario, [policy] if policy else None)[0]
    n = replications or scenario.replications
    root = scenario.seed if seed is None else seed
    run = RunFolder.create(scenario, "calibrate", root, out=out_dir)
    out.print(
        f"calibrating [bold]{scenario.name}[/bold] to {data.count} observed site(s) ({metric}, by {data.by}): "
        f"{trials} trial(s) x {n} replication(s), policy {name}, seed {root}",
        highlight=False,
    )
    with progress("trials", trials) as done:
        doc = run_calibration(scenario, data, params, name, trials, n, root, bootstrap, lambda _t: done())
    write_plot(run.path / "calibration.png", doc)
    doc = CalibrateSummary.model_validate({k: v for k, v in doc.items() if not k.startswith("_")}).to_json()
    write_json(run.path / "summary.json", doc)
    run.finish(trials=trials, argv_text=shlex.join(sys.argv))
    rows = [[path, f["shown"], f"{f['shown_ci95'][0]} .. {f['shown_ci95'][1]}"] for path, f in doc["fitted"].items()]
    out.print(fit_or_stack(out, "fitted (95% bootstrap interval)", ["parameter", "best", "95% interval"], rows))
    out.print(
        f"Wasserstein distance {doc['distance']:.4g}; {metric} mean observed {doc['observed_mean']:.4g}, "
        f"simulated {doc['simulated_mean']:.4g}",
        highlight=False,
    )
    out.print(f"results: {run.path}/ (summary.json, calibration.png)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
