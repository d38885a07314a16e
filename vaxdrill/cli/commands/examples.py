"""``vaxdrill examples`` and ``vaxdrill locustfile``: what a wheel install ships, without the repository.

``vaxdrill examples`` lists the shipped scenarios (each command that takes a scenario accepts one by
name); ``vaxdrill examples copy NAME [DIR]`` writes one out to edit, with the files it refers to.
``vaxdrill locustfile`` prints the path of the pack's locustfile, for plain Locust::

    locust -f "$(vaxdrill locustfile)" --scenario raigad-2021-01-16 --host http://127.0.0.1:8000
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vaxdrill.core.errors import ScenarioError
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.shipped import copy_shipped, shipped_dir, shipped_scenarios
from vaxdrill.loadtest.procs import LOCUSTFILE

out = Console(soft_wrap=True)
examples_app = typer.Typer(
    help="The shipped example scenarios: list them, or copy one out to edit.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@examples_app.callback()
def examples(ctx: typer.Context) -> None:
    """List the shipped scenarios; any command that takes a SCENARIO accepts one by name."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table(title=f"shipped scenarios ({shipped_dir()})")
    for col in ("name", "sites", "policies", "description"):
        table.add_column(col)
    for name, path in shipped_scenarios().items():
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:  # a shipped file that does not load is a packaging bug: show it, go on
            table.add_row(name, "", "", f"[red]does not load[/red]: {exc}")
            continue
        description = " ".join((scenario.description or "").split())
        table.add_row(name, str(len(scenario.sites)), str(len(scenario.policies)), description[:90])
    out.print(table)
    out.print("use one by name (vaxdrill drill raigad-2021-01-16), or copy it out to edit: "
              "vaxdrill examples copy NAME [DIR]", highlight=False)  # fmt: skip


@examples_app.command("copy")
def copy(
    name: Annotated[str, typer.Argument(help="A shipped scenario's name (see `vaxdrill examples`).")],
    folder: Annotated[Path, typer.Argument(help="Folder to write into (default: the current folder).")] = Path("."),
) -> None:
    """Write a shipped scenario (and the files it refers to, such as its sites CSV) into FOLDER to edit."""
    for path in copy_shipped(name, folder):
        out.print(f"wrote {path}", highlight=False)


def locustfile() -> None:
    """Print the path of the pack's locustfile, for plain Locust: locust -f "$(vaxdrill locustfile)"."""
    print(LOCUSTFILE)  # plain, no Rich wrapping: a shell substitutes it


def register(app: typer.Typer) -> None:
    app.add_typer(examples_app, name="examples")
    app.command("locustfile")(locustfile)


__all__ = ["register"]
