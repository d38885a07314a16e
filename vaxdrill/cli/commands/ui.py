"""``vaxdrill ui``: the what-if page for planners, served on this machine (vaxdrill/ui/)."""

from __future__ import annotations

import socket
from typing import Annotated

import typer
from rich.console import Console

from vaxdrill.cli.paths import SCENARIO_HELP
from vaxdrill.core.errors import RunError

out = Console(stderr=True, soft_wrap=True)


def ui(
    scenario: Annotated[str | None, typer.Argument(metavar="[SCENARIO]", help=SCENARIO_HELP)] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to serve on (0: any free port).")] = 8050,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; the default serves this machine only.")
    ] = "127.0.0.1",
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Worker processes for replications.")] = 1,
) -> None:
    """A local web page: change a scenario's main assumptions and see what the policies do."""
    import uvicorn

    from vaxdrill.core.shipped import resolve_scenario, shipped_dir
    from vaxdrill.ui.app import DEFAULT_SCENARIO, create_app
    from vaxdrill.ui.runs import scenario_of
    from vaxdrill.ui.whatif import WhatIf

    name = DEFAULT_SCENARIO
    if scenario:
        path = resolve_scenario(scenario)
        # A shipped scenario keeps its short name, so its URLs work on any machine.
        name = path.stem if path.parent == shipped_dir() else str(path)
    scenario_of(WhatIf(name))  # a bad scenario is one line now, not an error page later
    # Bind here, so a taken port is one line and port 0's free port can be printed before serving.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RunError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror})") from None
    bound = sock.getsockname()
    out.print(f"what-if page: http://{bound[0]}:{bound[1]}/  (Ctrl-C to stop)", highlight=False)
    config = uvicorn.Config(create_app(name, workers), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
