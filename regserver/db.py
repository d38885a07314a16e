"""Storage: the tables, and one async code path for SQLite (aiosqlite) and PostgreSQL (asyncpg).

Everything workers must agree on lives here, never in process memory: sessions and seats, OTP
transactions and their rate limits, idempotency keys, the fault plan, per-IP hit counts, the
token-signing key. So ``--workers N`` processes behave as one server.

SQLite runs in WAL mode (readers never wait for the writer). Write transactions start with
``BEGIN IMMEDIATE`` and each process holds one writing connection, so writers queue in order
instead of failing with "database is locked" when a read lock cannot be upgraded; across
processes ``busy_timeout`` makes them wait their turn.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

metadata = sa.MetaData()

settings = sa.Table(
    "settings", metadata, sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.Text, nullable=False)
)
states = sa.Table(
    "states",
    metadata,
    sa.Column("state_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state_name", sa.String(200), nullable=False),
)
districts = sa.Table(
    "districts",
    metadata,
    sa.Column("district_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state_id", sa.Integer, nullable=False, index=True),
    sa.Column("district_name", sa.String(200), nullable=False),
)
centers = sa.Table(
    "centers",
    metadata,
    sa.Column("center_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("district_id", sa.Integer, nullable=False, index=True),
    sa.Column("pincode", sa.String(6), nullable=False, index=True),
    sa.Column("from_time", sa.String(8), nullable=False),
    sa.Column("to_time", sa.String(8), nullable=False),
    sa.Column("fee_type", sa.String(10), nullable=False),
)
# Dose 1 and dose 2 seats are separate pools, as on Co-WIN (available_capacity_dose1/_dose2).
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("center_id", sa.Integer, nullable=False, index=True),
    sa.Column("date", sa.Date, nullable=False, index=True),
    sa.Column("vaccine", sa.String(40), nullable=False),
    sa.Column("min_age_limit", sa.Integer, nullable=False),
    sa.Column("slots", sa.Text, nullable=False),  # JSON list of "09:00AM-11:00AM"
    sa.Column("capacity_dose1", sa.Integer, nullable=False),
    sa.Column("capacity_dose2", sa.Integer, nullable=False),
    sa.Column("booked_dose1", sa.Integer, nullable=False, default=0),
    sa.Column("booked_dose2", sa.Integer, nullable=False, default=0),
)
otp_txns = sa.Table(
    "otp_txns",
    metadata,
    sa.Column("txn_id", sa.String(36), primary_key=True),
    sa.Column("mobile", sa.String(10), nullable=False),
    sa.Column("otp_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("state", sa.String(10), nullable=False),  # open, used, failed
    sa.Index("ix_otp_mobile_time", "mobile", "created_at"),
)
sms_outbox = sa.Table(
    "sms_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("mobile", sa.String(10), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("deliver_at", sa.Float, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # queued, dropped
)
# One account per staff member, bound to one centre; the credential only as a slow hash (accounts.py).
staff_accounts = sa.Table(
    "staff_accounts",
    metadata,
    sa.Column("center_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("staff_id", sa.String(40), primary_key=True),
    sa.Column("credential_hash", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
# Photo ID numbers are kept only as a keyed hash (for the one-ID-one-person rule) and last 4 digits.
beneficiaries = sa.Table(
    "beneficiaries",
    metadata,
    sa.Column("beneficiary_reference_id", sa.String(14), primary_key=True),
    sa.Column("mobile", sa.String(10), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("birth_year", sa.Integer, nullable=False),
    sa.Column("gender_id", sa.Integer, nullable=False),
    sa.Column("photo_id_type", sa.Integer, nullable=False),
    sa.Column("photo_id_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("photo_id_last4", sa.String(4), nullable=False),
    sa.Column("comorbidity_ind", sa.String(1), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
appointments = sa.Table(
    "appointments",
    metadata,
    sa.Column("appointment_id", sa.String(36), primary_key=True),
    sa.Column("beneficiary_reference_id", sa.String(14), primary_key=True),
    sa.Column("session_id", sa.String(36), nullable=False, index=True),
    sa.Column("slot", sa.String(20), nullable=False),
    sa.Column("dose", sa.Integer, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # booked, completed (dose recorded), cancelled
    sa.Column("created_at", sa.Float, nullable=False),
    # One live (or completed) appointment per beneficiary and dose, whatever the concurrency: a dose
    # given is not booked again.
    sa.Index(
        "ux_appointment_live",
        "beneficiary_reference_id",
        "dose",
        unique=True,
        sqlite_where=sa.text("status <> 'cancelled'"),
        postgresql_where=sa.text("status <> 'cancelled'"),
    ),
)
vaccinations = sa.Table(
    "vaccinations",
    metadata,
    sa.Column("vaccination_id", sa.String(36), primary_key=True),
    sa.Column("beneficiary_reference_id", sa.String(14), nullable=False),
    sa.Column("session_id", sa.String(36), nullable=False),
    sa.Column("district_id", sa.Integer, nullable=False),
    sa.Column("vaccine", sa.String(40), nullable=False),
    sa.Column("batch", sa.String(40), nullable=False),
    sa.Column("dose", sa.Integer, nullable=False),
    sa.Column("administered_at", sa.String(40), nullable=False),
    sa.Column("administered_date", sa.Date, nullable=False, index=True),
    sa.Column("source", sa.String(10), nullable=False),  # online, sync
    sa.Column("client_record_id", sa.String(36), nullable=True, unique=True),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("staff", sa.String(80), nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
    # Exactly-once effect: a beneficiary gets each dose recorded once, online or from paper.
    sa.UniqueConstraint("beneficiary_reference_id", "dose", name="ux_vaccination_dose"),
)
idempotency = sa.Table(
    "idempotency",
    metadata,
    sa.Column("scope_key", sa.String(340), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # running, done
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
# Who changed a dose record outside the vaccinator's ordinary path, when, why, and what it said before
# and after: a walk-in (recorded without an appointment), an admin's correction or void.
record_audit = sa.Table(
    "record_audit",
    metadata,
    sa.Column("audit_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("vaccination_id", sa.String(36), nullable=False, index=True),
    sa.Column("action", sa.String(10), nullable=False),  # walk_in, correct, void
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("before", sa.Text, nullable=True),  # the record as JSON (None: it did not exist)
    sa.Column("after", sa.Text, nullable=True),  # the record as JSON (None: voided)
)
faults = sa.Table(
    "faults",
    metadata,
    sa.Column("fault_id", sa.String(36), primary_key=True),
    sa.Column("spec", sa.Text, nullable=False),  # the Fault model as JSON
    sa.Column("starts_at", sa.Float, nullable=False),
    sa.Column("ends_at", sa.Float, nullable=False),
    sa.Column("cleared", sa.Boolean, nullable=False, default=False),
)
ip_hits = sa.Table(
    "ip_hits",
    metadata,
    sa.Column("ip", sa.String(64), primary_key=True),
    sa.Column("window", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hits", sa.Integer, nullable=False),
)

# A slow_db fault sets this per request; every transaction of that request waits this long first.
db_delay: contextvars.ContextVar[float] = contextvars.ContextVar("db_delay", default=0.0)


def normalize_url(url: str) -> tuple[str, dict[str, Any]]:
    """Map ``sqlite:///file`` / ``postgresql://...`` to the async drivers; extra connect arguments.

    ``postgresql://...?search_path=name`` puts the tables in that schema (tests use one each).
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    query = dict(urllib.parse.parse_qsl(parts.query))
    connect: dict[str, Any] = {}
    if scheme == "sqlite":
        return "sqlite+aiosqlite:" + url.split(":", 1)[1], {"timeout": 30}
    if scheme in ("postgresql", "postgres"):
        search_path = query.pop("search_path", None)
        if search_path:
            connect["server_settings"] = {"search_path": search_path}
        rest = parts._replace(scheme="postgresql+asyncpg", query=urllib.parse.urlencode(query))
        return urllib.parse.urlunsplit(rest), connect
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r}: use sqlite:///FILE or postgresql://...")


def private_sqlite_files(url: str) -> None:
    """Make the SQLite file (and its -wal/-shm) readable by its owner only, creating it if need be.

    The database holds the root key, OTP and photo-ID hashes: no other local user may read it. SQLite
    gives the -wal and -shm files the mode of the database file, so an owner-only file is enough for a
    new database; files an older version made are tightened too.
    """
    path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for name in (path, f"{path}-wal", f"{path}-shm"):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)


class Database:
    """Engines and transactions. ``read()`` for queries, ``write()`` for changes (atomic, serialised)."""

    def __init__(self, url: str, pool_size: int = 8) -> None:
        self.url = url
        async_url, connect = normalize_url(url)
        self.is_sqlite = async_url.startswith("sqlite")
        # Reads run in autocommit: no BEGIN, no ROLLBACK on return, two round trips (or thread hops)
        # fewer per request. Writes run in real transactions.
        reads: dict[str, Any] = {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
        # Every write transaction ends in COMMIT or ROLLBACK (engine.begin()), so no reset is needed.
        writes: dict[str, Any] = {"pool_reset_on_return": None}
        if self.is_sqlite:
            private_sqlite_files(url)
            self.read_engine = create_async_engine(
                async_url, connect_args=connect, pool_size=pool_size, max_overflow=0, pool_timeout=60, **reads
            )
            self.write_engine = create_async_engine(
                async_url, connect_args=connect, pool_size=1, max_overflow=0, pool_timeout=60, **writes
            )
            _sqlite_hooks(self.read_engine, None)
            _sqlite_hooks(self.write_engine, "BEGIN IMMEDIATE")
        else:
            self.read_engine = create_async_engine(
                async_url, connect_args=connect, pool_size=pool_size, max_overflow=4, pool_timeout=60, **reads
            )
            self.write_engine = create_async_engine(
                async_url, connect_args=connect, pool_size=pool_size, max_overflow=4, pool_timeout=60, **writes
            )

    def insert_ignore(self, table: sa.Table) -> Any:
        """``INSERT ... ON CONFLICT DO NOTHING`` in this database's dialect."""
        return (sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)).on_conflict_do_nothing()

    def upsert_add(self, table: sa.Table, keys: list[str], column: str, amount: int) -> Any:
        """``INSERT ... ON CONFLICT (keys) DO UPDATE SET column = column + amount``."""
        stmt = sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)
        return stmt.on_conflict_do_update(index_elements=keys, set_={column: table.c[column] + amount})

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.read_engine.connect() as conn:
            await _maybe_slow()
            yield conn

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with self.write_engine.begin() as conn:
            await _maybe_slow()
            yield conn

    async def create_tables(self, reset: bool = False) -> None:
        async with self.write_engine.begin() as conn:
            if reset:
                await conn.run_sync(metadata.drop_all)
            await conn.run_sync(metadata.create_all)

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self.read_engine.dispose()
        await self.write_engine.dispose()


async def _maybe_slow() -> None:
    delay = db_delay.get()
    if delay > 0:
        import asyncio

        await asyncio.sleep(delay)


def _sqlite_hooks(engine: AsyncEngine, begin: str | None) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    if begin is not None:

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)
