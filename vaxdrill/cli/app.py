"""The ``vaxdrill`` command line.

Each subcommand lives in ``vaxdrill/cli/commands/``; this module builds the app and turns every
:class:`~vaxdrill.core.errors.VaxdrillError` into a message and its exit code, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vaxdrill.core.documents import DOCUMENTS, json_schema, schema_file_name
from vaxdrill.core.errors import ExitCode, ScenarioError, VaxdrillError
from vaxdrill.core.results import fail_open_runs
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.bounds import MAX_FILE_SIZE_ENV, parse_size
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.shipped import resolve_scenario
from vaxdrill.core.version import __version__

app = typer.Typer(
    name="vaxdrill",
    help="Load tests and resilience simulation for a vaccination programme's launch day.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"vaxdrill {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    max_file_size: Annotated[
        str | None,
        typer.Option(
            "--max-file-size",
            help=f"Largest scenario or sites CSV to read, e.g. 50MB (default 10MiB; or ${MAX_FILE_SIZE_ENV}).",
        ),
    ] = None,
) -> None:
    """Load tests and resilience simulation for a vaccination programme's launch day."""
    if max_file_size is not None:
        try:
            parse_size(max_file_size)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--max-file-size") from None
        # Through the environment, so the commands a drill starts read the same cap.
        os.environ[MAX_FILE_SIZE_ENV] = max_file_size


@app.command()
def validate(
    scenarios: Annotated[
        list[Path], typer.Argument(help="Scenario YAML files to check (or shipped scenarios' names).")
    ],
) -> None:
    """Check scenario files; print every problem with its file, field and line."""
    failed = 0
    for path in scenarios:
        try:
            scenario = load_scenario(path if path.exists() else resolve_scenario(path))  # errors name the file as given
        except ScenarioError as exc:
            failed += 1
            for problem in exc.problems:
                err.print(f"[red]error[/red] {problem}", highlight=False, soft_wrap=True)
            continue
        out.print(
            f"[green]ok[/green] {path}: {scenario.name}: {len(scenario.sites)} site(s), "
            f"{len(scenario.policies)} policy(ies), {len(scenario.slos)} SLO(s), {len(scenario.faults)} fault(s)",
            highlight=False,
        )
    if failed:
        raise typer.Exit(ExitCode.USER_ERROR)


def document_names() -> dict[str, str]:
    """Short names of the results documents: ``loadtest`` -> ``vaxdrill.loadtest/1``."""
    return {tag.split("/")[0].rsplit(".", 1)[-1]: tag for tag in DOCUMENTS}


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of standard output.")
    ] = None,
    document: Annotated[
        str | None,
        typer.Option("--document", "-d", help=f"A results document's schema instead: {', '.join(document_names())}."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="Write every results document's schema into this folder (as in schemas/)."),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="Write the scenario field reference (Markdown, as docs/scenarios.md)."),
    ] = None,
) -> None:
    """Write the JSON Schema of scenario files (for editor completion and checks) or of results documents."""
    if reference is not None:
        from vaxdrill.core.scenario.reference import render_reference

        reference.write_text(render_reference() + "\n", encoding="utf-8")
        out.print(f"wrote {reference}")
        return
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for tag in DOCUMENTS:
            target = out_dir / schema_file_name(tag)
            target.write_text(json.dumps(json_schema(tag), indent=2) + "\n", encoding="utf-8")
            out.print(f"wrote {target}")
        return
    if document is None:
        data: dict[str, object] = scenario_json_schema()
    else:
        names = document_names()
        if document not in names:
            raise VaxdrillError(f"--document {document}: no such results document (one of {', '.join(names)})")
        data = json_schema(names[document])
    text = json.dumps(data, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")


def scenario_json_schema() -> dict[str, object]:
    schema = Scenario.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "vaxdrill scenario"
    return schema


def _register_commands() -> None:
    """Subcommands that exist only once they work (see README)."""
    from vaxdrill.cli.commands import register

    register(app)


def main() -> None:
    _register_commands()
    try:
        app()  # standalone: usage errors print click's message and exit 2
    except VaxdrillError as exc:
        fail_open_runs(str(exc), exc.exit_code)
        err.print(f"[red]error[/red] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except SystemExit as exc:  # typer.Exit, or Ctrl-C (click's "Aborted!", exit 1)
        if exc.code not in (0, None):
            fail_open_runs(f"the command ended with exit code {exc.code}", exc.code if isinstance(exc.code, int) else 1)
        raise
    except BaseException as exc:  # a bug: the run's folder still says it failed
        fail_open_runs(f"{type(exc).__name__}: {exc}", 1)
        raise
