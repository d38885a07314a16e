"""``vaxdrill proxy``: a TCP proxy with Toxiproxy's HTTP API, to put network faults in front of a server."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console(stderr=True, soft_wrap=True, highlight=False)


def proxy(
    host: Annotated[str, typer.Option(help="Address the HTTP API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port of the HTTP API (Toxiproxy's is 8474).")] = 8474,
    config: Annotated[
        Path | None, typer.Option(help="JSON list of proxies to create at start (name, listen, upstream).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Root seed of the toxics' random draws.")] = 0,
) -> None:
    """Run a TCP proxy driven by Toxiproxy's HTTP API (any Toxiproxy client works against it)."""
    from vaxdrill.proxy.proxies import Proxies
    from vaxdrill.proxy.server import read_config, serve

    proxies_config = read_config(config) if config is not None else None

    def ready(address: str, proxies: Proxies) -> None:
        out.print(f"vaxdrill proxy: API on http://{address} (seed {seed}); Ctrl-C stops")
        for item in proxies.by_name.values():
            state = "enabled" if item.enabled else "disabled"
            out.print(f"  proxy {item.name}: {item.listen} -> {item.upstream} ({state})")

    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it caught once it has stopped
        asyncio.run(serve(host, port, seed, proxies_config, str(config), ready))
    out.print("vaxdrill proxy: stopped")


def register(app: typer.Typer) -> None:
    app.command(name="proxy")(proxy)
