"""The root key and token generation in the database, shared by every worker.

The root key (``settings.token_key``, made once per database) never changes; ``token_generation``
goes up by one when an admin rotates the token key, which revokes every token signed before. Each
worker re-reads the generation with its fault plan (twice a second), so a rotation reaches every
worker within half a second, and at once on the worker that made it.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from regserver.db import Database, settings
from regserver.security import KeyRing

ROOT = "token_key"
GENERATION = "token_generation"


async def load_keys(db: Database) -> KeyRing:
    """The database's keys, making the root key (and generation 0) on first use."""
    async with db.write() as conn:
        await conn.execute(db.insert_ignore(settings).values(key=ROOT, value=secrets.token_hex(32)))
        await conn.execute(db.insert_ignore(settings).values(key=GENERATION, value="0"))
        rows = {key: value for key, value in (await conn.execute(sa.select(settings.c.key, settings.c.value))).all()}
    return KeyRing(bytes.fromhex(rows[ROOT]), int(rows[GENERATION]))


async def generation(db: Database) -> int:
    async with db.read() as conn:
        value = (await conn.execute(sa.select(settings.c.value).where(settings.c.key == GENERATION))).scalar_one()
    return int(value)


async def rotate(db: Database) -> KeyRing:
    """Move to the next token generation: tokens signed before no longer verify."""
    async with db.write() as conn:
        current = (
            await conn.execute(sa.select(settings.c.value).where(settings.c.key == GENERATION).with_for_update())
        ).scalar_one()
        await conn.execute(settings.update().where(settings.c.key == GENERATION).values(value=str(int(current) + 1)))
        root = (await conn.execute(sa.select(settings.c.value).where(settings.c.key == ROOT))).scalar_one()
    return KeyRing(bytes.fromhex(root), int(current) + 1)


async def refresh(db: Database, ring: KeyRing) -> KeyRing:
    """``ring``, or the ring of the newer generation another worker rotated to."""
    latest = await generation(db)
    return ring if latest == ring.generation else await load_keys(db)
