"""Run the proxies and their HTTP API in one event loop; read a ``--config`` file of proxies."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vaxdrill.core.errors import ProxyConfigError
from vaxdrill.proxy.api import build_app
from vaxdrill.proxy.proxies import ApiError, Proxies


def read_config(path: Path) -> list[Any]:
    """A JSON list of proxies (``name``, ``listen``, ``upstream``, ``enabled``), as Toxiproxy's ``-config``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProxyConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ProxyConfigError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise ProxyConfigError(f"{path}: expected a JSON list of proxies (name, listen, upstream)")
    return data


async def serve(
    host: str,
    port: int,
    seed: int,
    config: list[Any] | None = None,
    config_name: str = "config",
    ready: Callable[[str, Proxies], None] | None = None,
) -> None:
    """Serve the API on ``host:port`` until SIGINT or SIGTERM, then drop every proxied connection.

    ``ready`` is called with the API's address once it listens.
    """
    import asyncio

    import uvicorn

    proxies = Proxies(seed)
    try:
        if config:
            done, error = await proxies.populate(config)
            if error is not None:
                raise ProxyConfigError(f"{config_name}: proxy {len(done) + 1}: {error}")
    except ApiError as exc:
        proxies.close()
        raise ProxyConfigError(f"{config_name}: {exc}") from None
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError as exc:
        proxies.close()
        raise ProxyConfigError(f"--host/--port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server = uvicorn.Server(
        uvicorn.Config(build_app(proxies), log_level="warning", lifespan="off", http="h11", access_log=False)
    )

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        if ready is not None:
            bound = listener.getsockname()
            ready(f"{bound[0]}:{bound[1]}", proxies)

    watcher = asyncio.get_running_loop().create_task(announce())
    try:
        await server.serve(sockets=[listener])
    finally:
        watcher.cancel()
        proxies.close()
        listener.close()
