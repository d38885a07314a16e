"""``vaxdrill worker MASTER_HOST:PORT``: a Locust worker joining a ``vaxdrill loadtest --master`` run.

The worker takes everything about the run from its master: the target (``--host``), the scenario and
the load as run (sent by :mod:`locustfiles.workers` when it connects), and its share of the users and
of the arrival rate. It sends its requests straight to the target and its encoded histograms and
ledger to the master, which judges the whole run. The process becomes Locust's (``exec``), so
stopping or killing it stops the worker itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vaxdrill.core.errors import VaxdrillError
from vaxdrill.core.secrets import DRILL_SECRETS
from vaxdrill.loadtest.procs import LOCUSTFILE, ROOT, parse_address, worker_argv

out = Console(soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        master: Annotated[
            str, typer.Argument(metavar="MASTER_HOST:PORT", help="Where the master listens (its --bind).")
        ],
        locustfile: Annotated[
            Path | None,
            typer.Option("-f", "--locustfile", help="The master's locustfile (default: the built-in pack)."),
        ] = None,
        out_dir: Annotated[
            Path | None,
            typer.Option("--out", help="Also write what this worker sent, as worker-<index>.json, in this folder."),
        ] = None,
    ) -> None:
        """Join a distributed load test: load the master's target with a share of its users."""
        address = parse_address(master, "MASTER_HOST:PORT")
        path = locustfile.resolve() if locustfile is not None else None  # None: the built-in pack
        if path is not None and not path.is_file():
            raise VaxdrillError(f"-f {locustfile}: no such locustfile")
        env = {**DRILL_SECRETS.environ(), **os.environ, "PYTHONUNBUFFERED": "1"}  # the master's replace them
        env.pop("VAXDRILL_OUT", None)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            env["VAXDRILL_OUT"] = str(out_dir.resolve())
        shown = (path or LOCUSTFILE).name
        out.print(f"worker joining the master at {address[0]}:{address[1]} ({shown})", highlight=False)
        sys.stdout.flush()
        os.chdir(ROOT)
        argv = worker_argv(address, path)
        os.execve(argv[0], argv, env)


__all__ = ["register"]
