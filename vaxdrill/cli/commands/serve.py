"""``vaxdrill serve``: the reference registration server (regserver/) on uvicorn.

The parent process prepares the database once (tables, signing key, seed data, the fault plan file),
then runs uvicorn with N worker processes that share nothing but the database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from vaxdrill.core.errors import DatabaseUnreachable, FaultFileError, RunError, VaxdrillError
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.loadplan import Fault
from vaxdrill.core.secrets import DRILL_SECRETS

out = Console(stderr=True, soft_wrap=True)


def load_fault_plan(path: Path) -> list[Fault]:
    """A YAML list of faults (the scenario's ``faults`` model), or a scenario file with ``faults:``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FaultFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise FaultFileError(f"{path}: not valid YAML: {exc}") from None
    if isinstance(data, dict) and "faults" in data:
        data = data["faults"]
    if not isinstance(data, list):
        raise FaultFileError(f"{path}: expected a YAML list of faults (kind, at, duration, ...)")
    try:
        return TypeAdapter(list[Fault]).validate_python(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
            problems.append(f"{path}: {where}: {err['msg'].removeprefix('Value error, ')}")
        raise FaultFileError("\n".join(problems)) from None


def serve(
    db: Annotated[str, typer.Option(help="sqlite:///FILE (default, WAL mode) or postgresql://user@host:port/db.")] = (
        "sqlite:///vaxdrill-server.db"
    ),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (share only the database).")] = 1,
    faults: Annotated[Path | None, typer.Option(help="YAML list of faults to inject, `at` counted from start.")] = None,
    seed_data: Annotated[Path | None, typer.Option(help="Scenario whose sites seed states, centres, sessions.")] = None,
    drill_otp: Annotated[
        str | None, typer.Option(help="Drill mode: OTPs derived from mobile + this secret (off by default).")
    ] = None,
    staff_secret: Annotated[str, typer.Option(help="Secret site staff log in with.")] = DRILL_SECRETS.staff_secret,
    admin_token: Annotated[
        str | None, typer.Option(help="Bearer token of the admin routes (default: a random one, printed).")
    ] = None,
    max_in_flight: Annotated[
        int, typer.Option(min=0, help="Per worker: beyond this many requests in flight, 503 at once (0 = no limit).")
    ] = 200,
    per_ip_limit: Annotated[
        int, typer.Option(min=0, help="Calls per IP per --per-ip-window, then 429 (0 = off; Co-WIN: 100).")
    ] = 0,
    per_ip_window: Annotated[float, typer.Option(min=1, help="Per-IP window in seconds.")] = 300.0,
    cache_seconds: Annotated[float, typer.Option(min=0, help="Availability cache lifetime (max-age).")] = 5.0,
    token_ttl: Annotated[float, typer.Option(min=1, help="Citizen token lifetime in seconds.")] = 1800.0,
    otp_limit: Annotated[int, typer.Option(min=1, help="OTPs per mobile per --otp-window, then 429.")] = 5,
    otp_window: Annotated[float, typer.Option(min=1, help="OTP rate-limit window in seconds.")] = 900.0,
    seed: Annotated[int, typer.Option(min=0, help="Root seed of fault draws.")] = 0,
    idempotency_lease: Annotated[
        float, typer.Option(min=0.1, help="Seconds an Idempotency-Key whose request died stays claimed (409).")
    ] = 30.0,
    reset: Annotated[bool, typer.Option(help="Drop every table first (a fresh drill).")] = False,
    access_log: Annotated[bool, typer.Option(help="Log each request (paths only; no bodies).")] = False,
) -> None:
    """Run the reference registration server (Co-WIN-shaped API, docs/api-contract.md)."""
    from regserver.config import ENV_VAR, ServerConfig
    from regserver.db import normalize_url

    try:
        normalize_url(db)
    except ValueError as exc:
        raise VaxdrillError(f"--db: {exc}") from None
    if db.startswith("sqlite") and (db in ("sqlite://", "sqlite:///:memory:") or ":memory:" in db):
        raise VaxdrillError("--db: an in-memory SQLite database cannot be shared by workers; give a file")
    plan = load_fault_plan(faults) if faults is not None else []
    scenario = load_scenario(seed_data) if seed_data is not None else None
    token = admin_token or secrets.token_urlsafe(18)
    config = ServerConfig(
        db=db,
        drill_otp=drill_otp,
        staff_secret=staff_secret,
        admin_token=token,
        max_in_flight=max_in_flight,
        per_ip_limit=per_ip_limit,
        per_ip_window=per_ip_window,
        cache_seconds=cache_seconds,
        token_ttl=token_ttl,
        otp_limit=otp_limit,
        otp_window=otp_window,
        seed=seed,
        idempotency_lease=idempotency_lease,
    )
    from regserver.app import prepare

    try:
        summary = asyncio.run(prepare(config, scenario, plan, reset=reset))
    except (OSError, ConnectionError) as exc:
        raise DatabaseUnreachable(f"--db: cannot reach the database: {exc}") from None
    except Exception as exc:  # driver errors vary (asyncpg, sqlite3); the message is what helps
        if isinstance(exc, VaxdrillError):
            raise
        raise DatabaseUnreachable(f"--db: cannot prepare the database: {type(exc).__name__}: {exc}") from None
    out.print(f"vaxdrill serve: http://{host}:{port} ({workers} worker(s)), database {_safe(db)}")
    if summary is not None:
        out.print(
            f"seeded {summary.centers} centre(s), {summary.sessions} session(s) for today, "
            f"{summary.beneficiaries} booked beneficiaries"
        )
    if plan:
        out.print(f"fault plan: {len(plan)} fault(s) from {faults}")
    out.print(
        f"drill OTP: {'on' if drill_otp else 'off'}; "
        f"staff secret: {'default' if staff_secret == DRILL_SECRETS.staff_secret else 'set'}"
    )
    if admin_token is None:
        out.print(f"admin token: {token}")
    _run(config, host, port, workers, access_log, ENV_VAR)


def _safe(url: str) -> str:
    """The URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, _, where = rest.rpartition("@")
        return f"{scheme}://{creds.split(':')[0]}@{where}"
    return url


def _run(config: Any, host: str, port: int, workers: int, access_log: bool, env_var: str) -> None:
    import uvicorn

    os.environ[env_var] = config.to_env()
    if workers == 1:
        from regserver.app import asgi_app

        uvicorn.run(asgi_app(config), host=host, port=port, access_log=access_log, log_level="info")
        return
    # Shared metrics for all workers: prometheus-client's multiprocess mode needs a fresh folder.
    folder = tempfile.mkdtemp(prefix="vaxdrill-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        _serve_workers(host, port, workers, access_log)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _reuseport_socket(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it Nagle's algorithm and delayed ACKs add ~40 ms to responses written in two parts.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _serve_workers(host: str, port: int, workers: int, access_log: bool) -> None:
    """N worker processes, each with its own SO_REUSEPORT listening socket.

    uvicorn's own ``workers`` share one socket, and whichever worker wakes first accepts a whole burst of
    connections; with keep-alive clients (Locust users) one worker then does all the work. With a socket
    each, the kernel spreads connections over the workers.
    """
    import multiprocessing as mp

    try:
        holder = _reuseport_socket(host, port)  # bound, never listening: reserves the port (and picks one for 0)
    except OSError as exc:
        raise RunError(f"--host/--port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    port = holder.getsockname()[1]
    context = mp.get_context("spawn")
    procs = [context.Process(target=_worker, args=(host, port, access_log)) for _ in range(workers)]
    stopping = False

    def _stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for proc in procs:
            proc.start()
        out.print(f"{workers} workers listening on http://{host}:{port}")
        while not stopping and all(proc.is_alive() for proc in procs):
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)  # uvicorn shuts down gracefully on SIGTERM
        for proc in procs:
            proc.join(15)
            if proc.is_alive():
                proc.kill()
                proc.join()
        holder.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _worker(host: str, port: int, access_log: bool) -> None:
    import uvicorn

    sock = _reuseport_socket(host, port)
    sock.listen(2048)
    config = uvicorn.Config("regserver.app:app_from_env", factory=True, access_log=access_log, log_level="info")
    uvicorn.Server(config).run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.command(name="serve")(serve)
