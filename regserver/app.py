"""Build the FastAPI app; prepare the database (tables, signing key, seed data, fault plan file).

``vaxdrill serve`` calls :func:`prepare` once in the parent process, then starts uvicorn workers that
each build the app with :func:`app_from_env` (settings come through one environment variable).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI

from regserver import admin, booking, citizen, corrections, doses, errors, staff
from regserver.accounts import StaffAccount, put_accounts, put_drill_accounts
from regserver.batcher import BookingBatcher
from regserver.config import ServerConfig
from regserver.db import Database
from regserver.fastbook import FastBooking
from regserver.faults import FaultPlan
from regserver.guard import Guard
from regserver.keys import load_keys
from regserver.seed import SeedSummary, seed
from regserver.sms import OutboxGateway
from regserver.state import ServerState, TtlCache
from regserver.upkeep import Upkeep
from vaxdrill.core.scenario.loadplan import Fault
from vaxdrill.core.scenario.model import Scenario


async def prepare(
    config: ServerConfig,
    scenario: Scenario | None = None,
    plan: list[Fault] | None = None,
    reset: bool = False,
    accounts: list[StaffAccount] | None = None,
    drill_staff_key: str | None = None,
) -> SeedSummary | None:
    """Create tables (dropping them first with ``reset``), seed from ``scenario``, post ``plan``; store
    the operator's staff ``accounts`` and, with ``drill_staff_key``, one drill account per centre."""
    db = Database(config.db, pool_size=1)
    try:
        await db.create_tables(reset=reset)
        keys = await load_keys(db)
        summary = await seed(db, scenario, keys) if scenario is not None else None
        if drill_staff_key:
            await put_drill_accounts(db, drill_staff_key)
        if accounts:
            await put_accounts(db, [(a.center_id, a.staff_id, a.stored()) for a in accounts])
        if plan:
            faults = FaultPlan(db, config.seed, 0)
            for fault in plan:
                await faults.add(fault)
        return summary
    finally:
        await db.dispose()


def create_app(config: ServerConfig, worker: int = 0) -> FastAPI:
    # aiosqlite logs every statement with its parameters (mobiles, OTP hashes) at DEBUG; SQLAlchemy's
    # engine logger does too when turned up. Keep both quiet whatever the root logger's level.
    for name in ("aiosqlite", "sqlalchemy.engine"):
        logging.getLogger(name).setLevel(logging.WARNING)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        errors.quiet_access_log()  # here: uvicorn has set up its loggers by now, in every worker
        db = Database(config.db, pool_size=config.pool_size)
        await db.create_tables()
        plan = FaultPlan(db, config.seed, worker)
        await plan.refresh()
        app.state.server = ServerState(
            config=config,
            db=db,
            keys=await load_keys(db),
            plan=plan,
            sms=OutboxGateway(db),
            cache=TtlCache(config.cache_seconds),
            batcher=BookingBatcher(db),
        )
        upkeep = Upkeep(app.state.server)
        plan.start()
        upkeep.start()
        try:
            yield
        finally:
            await upkeep.stop()
            await plan.stop()
            await app.state.server.batcher.stop()
            await db.dispose()

    app = FastAPI(
        title="vaxdrill reference registration server",
        version="1",
        description="A Co-WIN-shaped registration API for drills (docs/api-contract.md).",
        lifespan=lifespan,
        # No OpenTelemetry here (nothing exports it): without this, FastAPI asks the global providers
        # on every request whether anyone listens, and would log validation failures with their input.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    errors.install(app)
    # The routes themselves, not the routers: an included router is one more level the app searches
    # (and re-enters) on every request. The routers carry full paths and their shared responses already.
    routers = (citizen.router, booking.router, staff.router, doses.router, admin.router, corrections.router, admin.ops)
    for router in routers:
        app.router.routes.extend(router.routes)
    # The router tries routes in order: launch day's hot paths go first.
    hot = {path: rank for rank, path in enumerate(HOT_PATHS)}
    app.router.routes.sort(key=lambda route: hot.get(getattr(route, "path", ""), len(hot)))
    return app


HOT_PATHS = (
    "/api/v2/appointment/sessions/public/findByDistrict",
    "/api/v2/appointment/schedule",
    "/api/v2/appointment/sessions/public/calendarByDistrict",
    "/api/v2/appointment/sessions/public/findByPin",
    "/api/v2/public/counters",
    "/api/v2/staff/vaccinations",
    "/api/v2/staff/verify",
    "/api/v2/auth/public/generateOTP",
    "/api/v2/auth/public/confirmOTP",
)


def asgi_app(config: ServerConfig, worker: int = 0) -> Guard:
    """The app behind :class:`Guard`, outermost so it holds uvicorn's own connection (for resets); errors
    stop at :class:`~regserver.errors.ContainErrors`, so uvicorn never prints a request's traceback; well-formed
    bookings skip FastAPI's request path (:class:`~regserver.fastbook.FastBooking`)."""
    return layers(create_app(config, worker))


def layers(app: FastAPI) -> Guard:
    """``app`` with the layers a server puts in front of it (tests use the same)."""
    return Guard(errors.ContainErrors(FastBooking(app, holder=app)), holder=app)


def app_from_env() -> Guard:
    """uvicorn factory for worker processes (``--workers N``)."""
    return asgi_app(ServerConfig.from_env(), worker=os.getpid())
