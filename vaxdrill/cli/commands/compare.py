"""``vaxdrill compare RUN_DIR RUN_DIR...``: earlier results side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vaxdrill.report.compare import TOLERANCE, Figure, compare, read_run, to_json


def _cell(fig: Figure | None) -> str:
    if fig is None:
        return "-"
    text = f"{fig.value:,.4g}"
    if fig.ci95 is not None:
        text += f" [{fig.ci95[0]:,.4g}, {fig.ci95[1]:,.4g}]"
    return text


def _change(delta: float | None, base: Figure | None) -> str:
    if delta is None or base is None:
        return ""
    rel = f" ({delta / base.value:+.0%})" if base.value else ""
    return f"{delta:+,.4g}{rel}"


def compare_command(
    runs: Annotated[list[Path], typer.Argument(help="Two or more results folders of the same kind.")],
    match: Annotated[
        str | None, typer.Option("--match", "-m", help="Only metrics whose name contains this text.")
    ] = None,
    sites: Annotated[bool, typer.Option("--sites", help="Include per-site figures (simulation).")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the comparison as JSON here.")] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Show figures whose change is inside the noise (hidden by default).")
    ] = False,
) -> None:
    """Compare two or more earlier runs (simulation, load test or capacity) side by side."""
    summaries = [read_run(path, include_sites=sites) for path in runs]
    rows = compare(summaries)
    if match:
        rows = [row for row in rows if match in row.metric]
    table = Table(title=f"{summaries[0].kind}: {len(summaries)} runs, changes against the first")
    table.add_column("metric", overflow="fold")
    for i, run in enumerate(summaries):
        table.add_column(run.label, justify="right", overflow="fold")
        if i:
            table.add_column("change", justify="right")
    shown = 0
    for row in rows:
        if row.noise_only() and not show_all:
            continue
        cells = [row.metric]
        for i, fig in enumerate(row.figures):
            cells.append(_cell(fig))
            if i:
                cells.append(_change(row.change(i), row.figures[0]))
        table.add_row(*cells)
        shown += 1
    console = Console(soft_wrap=False)
    console.print(table)
    hidden = len(rows) - shown
    if hidden:
        console.print(
            f"{hidden} figure(s) hidden: changes inside the noise (overlapping 95% intervals, or within "
            f"±{TOLERANCE:.0%} for figures without one); --all shows them.",
            highlight=False,
        )
    if json_out is not None:
        json_out.write_text(json.dumps(to_json(summaries, rows), indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {json_out}")


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_command)
