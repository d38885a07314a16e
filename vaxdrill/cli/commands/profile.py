"""``vaxdrill profile RUN_DIR``: a server profile (latency and failures against offered load).

Reads a ``vaxdrill loadtest`` or ``vaxdrill capacity`` results folder and writes
``server_profile.json`` (schema ``vaxdrill.server_profile/1``) for a scenario's ``server.profile``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vaxdrill.core.results import write_json

out = Console(soft_wrap=True)


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else f"{value:{fmt}}"


def register(app: typer.Typer) -> None:
    @app.command()
    def profile(
        run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A loadtest or capacity results folder.")],
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Where to write (default RUN_DIR/server_profile.json).")
        ] = None,
    ) -> None:
        """Server profile from a load test or capacity run: latency and failure rate against offered load."""
        from vaxdrill.bridges.server_profile import FILE, build_profile

        doc = build_profile(run_dir)
        target = output if output is not None else run_dir / FILE
        write_json(target, doc.to_json())
        unit = doc.offered_unit or "requests/s"
        table = Table(title=f"server profile ({doc.kind}, offered load in {unit})")
        for col in ("offered/s", "throughput/s", "p50 ms", "p95 ms", "p99 ms", "failures", "requests"):
            table.add_column(col, justify="right")
        for p in doc.points:
            table.add_row(
                _num(p.offered_rps, ".2f"), _num(p.throughput_rps, ".2f"), _num(p.p50_ms),
                _num(p.p95_ms), _num(p.p99_ms), f"{p.failure_rate:.1%}", str(p.requests),
            )  # fmt: skip
        out.print(table)
        knee = doc.knee_rps
        out.print(f"knee: {'unknown (no SLO to judge it)' if knee is None else f'{knee:.2f}/s'}", highlight=False)
        out.print(f"profile: {target}", highlight=False)
