"""``vaxdrill serve``: the reference registration server (regserver/) on uvicorn.

The parent process prepares the database once (tables, signing key, seed data, the fault plan file),
then runs uvicorn with N worker processes that share nothing but the database. uvicorn runs on uvloop
with httptools by default (about twice the requests per second of asyncio with h11; ``--loop asyncio
--http h11`` to debug in pure Python).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from vaxdrill.cli.paths import SCENARIO_HELP, absolute_db_url, user_path
from vaxdrill.core.errors import DatabaseUnreachable, FaultFileError, RunError, SecretFileError, VaxdrillError
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.loadplan import Fault
from vaxdrill.core.secrets import DRILL_SECRETS, ENV_VARS
from vaxdrill.core.shipped import resolve_scenario

out = Console(stderr=True, soft_wrap=True)


class EventLoop(StrEnum):
    uvloop = "uvloop"
    asyncio = "asyncio"


class HttpParser(StrEnum):
    httptools = "httptools"
    h11 = "h11"


@dataclass(frozen=True)
class Stack:
    """How uvicorn runs: access log, event loop, HTTP parser (picklable, for spawned workers)."""

    access_log: bool = False
    loop: str = "uvloop"
    http: str = "httptools"
    forwarded_allow_ips: str = ""  # proxies whose X-Forwarded-For is believed; empty: none

    def uvicorn(self) -> dict[str, Any]:
        # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise, which lets any local
        # client pick the address the per-address limits count: trust only the proxies the operator names.
        return {
            "access_log": self.access_log,
            "loop": self.loop,
            "http": self.http,
            "proxy_headers": bool(self.forwarded_allow_ips),
            "forwarded_allow_ips": self.forwarded_allow_ips or "",
        }


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
        faults = TypeAdapter(list[Fault]).validate_python(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
            problems.append(f"{path}: {where}: {err['msg'].removeprefix('Value error, ')}")
        raise FaultFileError("\n".join(problems)) from None
    network = [f for f in faults if f.kind == "network"]
    if network:  # a proxy in front of the server applies them (`vaxdrill loadtest`), not the server
        out.print(f"fault plan: {len(network)} network fault(s) in {path} left to the proxy of `vaxdrill loadtest`")
    return [f for f in faults if f.kind != "network"]


def serve(
    db: Annotated[str, typer.Option(help="sqlite:///FILE (default, WAL mode) or postgresql://user@host:port/db.")] = (
        "sqlite:///vaxdrill-server.db"
    ),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (share only the database).")] = 1,
    faults: Annotated[Path | None, typer.Option(help="YAML list of faults to inject, `at` counted from start.")] = None,
    seed_data: Annotated[
        Path | None,
        typer.Option(
            help=f"Scenario whose sites seed states, centres, sessions. {SCENARIO_HELP}", parser=resolve_scenario
        ),
    ] = None,
    drill_otp: Annotated[
        str | None,
        typer.Option(
            envvar=ENV_VARS["drill_otp"], help="Drill mode: OTPs derived from mobile + this secret (off by default)."
        ),
    ] = None,
    drill_staff_key: Annotated[
        str | None,
        typer.Option(
            envvar=ENV_VARS["drill_staff_key"],
            help="Drill mode: one staff account per centre (staff id `drill`), its credential derived from this key "
            "(prefer the variable or --drill-staff-key-file: a flag shows in `ps`).",
        ),
    ] = None,
    staff_accounts: Annotated[
        Path | None,
        typer.Option(
            help="YAML/JSON list of staff accounts {center_id, staff_id, credential | credential_hash}; "
            "credentials are stored as scrypt hashes."
        ),
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar=ENV_VARS["admin_token"],
            help="Bearer token of the admin routes (default: a random one, see --secrets-file; prefer the "
            "variable or --admin-token-file).",
        ),
    ] = None,
    admin_token_file: Annotated[Path | None, typer.Option(help="Read the admin token from this file.")] = None,
    drill_otp_file: Annotated[Path | None, typer.Option(help="Read the drill OTP secret from this file.")] = None,
    drill_staff_key_file: Annotated[Path | None, typer.Option(help="Read the drill staff key from this file.")] = None,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            envvar="FORWARDED_ALLOW_IPS",
            help="Comma-separated proxy addresses whose X-Forwarded-For is believed (default: none; the "
            "per-address limits then count the connecting address).",
        ),
    ] = "",
    secrets_file: Annotated[
        Path | None,
        typer.Option(help="Where generated secrets are written, owner-only (default: next to the SQLite file)."),
    ] = None,
    drill: Annotated[
        bool,
        typer.Option(
            "--drill",
            help="Drill mode: no per-address or per-account login limits (a load test's users all share one "
            "address). Secrets stay as given.",
        ),
    ] = False,
    auth_per_ip_limit: Annotated[
        int, typer.Option(min=0, help="Logins and OTP requests per address per --auth-window, then 429 (0 = off).")
    ] = 100,
    staff_login_limit: Annotated[
        int, typer.Option(min=0, help="Staff login attempts per account per --auth-window, then 429 (0 = off).")
    ] = 10,
    auth_window: Annotated[float, typer.Option(min=1, help="Window of the login limits, in seconds.")] = 900.0,
    max_in_flight: Annotated[
        int, typer.Option(min=0, help="Per worker, hard cap: beyond this many in flight, 503 at once (0 = none).")
    ] = 200,
    latency_target: Annotated[
        float,
        typer.Option(
            min=0,
            help="Adaptive shedding: lower the in-flight limit while admitted requests take longer than this "
            "on average (seconds; 0 = off, only --max-in-flight).",
        ),
    ] = 0.05,
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
    loop: Annotated[
        EventLoop, typer.Option(help="Event loop: uvloop (fast, default) or asyncio (to debug).")
    ] = EventLoop.uvloop,
    http: Annotated[
        HttpParser, typer.Option(help="HTTP parser: httptools (fast, default) or h11 (pure Python, to debug).")
    ] = HttpParser.httptools,
) -> None:
    """Run the reference registration server (Co-WIN-shaped API, docs/api-contract.md)."""
    from regserver.accounts import read_accounts_file
    from regserver.config import ENV_VAR, ServerConfig
    from regserver.db import normalize_url

    db = absolute_db_url(db)  # the workers get the URL: a relative SQLite file must not depend on their folder
    faults = user_path(faults) if faults is not None else None
    try:
        normalize_url(db)
    except ValueError as exc:
        raise VaxdrillError(f"--db: {exc}") from None
    if db.startswith("sqlite") and (db in ("sqlite://", "sqlite:///:memory:") or ":memory:" in db):
        raise VaxdrillError("--db: an in-memory SQLite database cannot be shared by workers; give a file")
    plan = load_fault_plan(faults) if faults is not None else []
    scenario = load_scenario(seed_data) if seed_data is not None else None
    admin_token = _secret(admin_token, admin_token_file, "--admin-token-file")
    drill_otp = _secret(drill_otp, drill_otp_file, "--drill-otp-file")
    drill_staff_key = _secret(drill_staff_key, drill_staff_key_file, "--drill-staff-key-file")
    accounts = read_accounts_file(user_path(staff_accounts)) if staff_accounts is not None else []
    generated = {}
    if not admin_token:
        admin_token = generated["admin_token"] = secrets.token_urlsafe(18)
    secrets_path = secrets_file or _secrets_path(db)
    config = ServerConfig(
        db=db,
        drill_otp=drill_otp,
        admin_token=admin_token,
        auth_per_ip_limit=0 if drill else auth_per_ip_limit,
        staff_login_limit=0 if drill else staff_login_limit,
        auth_window=auth_window,
        max_in_flight=max_in_flight,
        latency_target=latency_target,
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
        summary = asyncio.run(prepare(config, scenario, plan, reset, accounts, drill_staff_key))
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
    if generated:
        _write_secrets(secrets_path, generated)
        if sys.stderr.isatty():
            # Shown once, on the terminal only: captured output (a log file, CI) gets the file's name.
            for name, value in generated.items():
                out.print(f"{name.replace('_', ' ')}: {value}", highlight=False)
        out.print(f"generated {' and '.join(n.replace('_', ' ') for n in generated)}: in {secrets_path} (owner-only)")
    given = {"admin_token": admin_token, "drill_staff_key": drill_staff_key}
    public = [name for name, value in given.items() if value == getattr(DRILL_SECRETS, name)]
    if public and not drill:
        out.print(f"[yellow]warning[/yellow] {', '.join(public)}: the public drill value; fine only for a drill")
    limits = "off (--drill)" if drill else f"{auth_per_ip_limit} per address, {staff_login_limit} per staff account"
    staff = f"{len(accounts)} from {staff_accounts}" if accounts else "none from a file"
    out.print(
        f"drill OTP: {'on' if drill_otp else 'off'}; login limits: {limits}; staff accounts: {staff}"
        f"{', one drill account per centre' if drill_staff_key else ''}"
    )
    stack = Stack(access_log, loop.value, http.value, forwarded_allow_ips.strip())
    _run(config, host, port, workers, stack, ENV_VAR)


def _secret(value: str | None, path: Path | None, option: str) -> str | None:
    """The secret from its file (first line, stripped) if one is given, else ``value``."""
    if path is None:
        return value
    path = user_path(path)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretFileError(f"{option} {path}: cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if not text or "\n" in text:
        raise SecretFileError(f"{option} {path}: expected the secret alone on one line")
    return text


def _secrets_path(db: str) -> Path:
    """Beside the SQLite file (``server.db`` -> ``server.db.secrets.json``); for PostgreSQL, in this folder."""
    if db.startswith("sqlite") and ":///" in db:
        return Path(db.split(":///", 1)[1].split("?", 1)[0] + ".secrets.json")
    return Path("vaxdrill-server.secrets.json")


def _write_secrets(path: Path, values: dict[str, str]) -> None:
    """Write ``values`` as JSON readable by the owner only (0600), replacing an older file."""
    try:
        path.unlink(missing_ok=True)  # a new file gets the mode below whatever the old one had
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(values, handle, indent=2)
            handle.write("\n")
    except OSError as exc:
        raise RunError(f"--secrets-file {path}: cannot write the generated secrets: {exc.strerror or exc}") from None


def _safe(url: str) -> str:
    """The URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, _, where = rest.rpartition("@")
        return f"{scheme}://{creds.split(':')[0]}@{where}"
    return url


def _run(config: Any, host: str, port: int, workers: int, stack: Stack, env_var: str) -> None:
    import uvicorn

    os.environ[env_var] = config.to_env()
    if workers == 1:
        from regserver.app import asgi_app

        uvicorn.run(asgi_app(config), host=host, port=port, log_level="info", **stack.uvicorn())
        return
    # Shared metrics for all workers: prometheus-client's multiprocess mode needs a fresh folder.
    folder = tempfile.mkdtemp(prefix="vaxdrill-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        _serve_workers(host, port, workers, stack)
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


def _serve_workers(host: str, port: int, workers: int, stack: Stack) -> None:
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
    procs = [context.Process(target=_worker, args=(host, port, stack)) for _ in range(workers)]
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


def _worker(host: str, port: int, stack: Stack) -> None:
    import uvicorn

    sock = _reuseport_socket(host, port)
    sock.listen(2048)
    config = uvicorn.Config("regserver.app:app_from_env", factory=True, log_level="info", **stack.uvicorn())
    uvicorn.Server(config).run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.command(name="serve")(serve)
