"""Seats of a session: taken and given back with one conditional UPDATE each.

``booked + n <= capacity`` is checked inside the UPDATE, atomic in SQLite and PostgreSQL alike, so a
session is never overbooked whatever the number of concurrent requests or worker processes.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regserver.db import sessions


def _seat_columns(dose: int) -> tuple[sa.Column[Any], sa.Column[Any]]:
    if dose == 1:
        return sessions.c.booked_dose1, sessions.c.capacity_dose1
    return sessions.c.booked_dose2, sessions.c.capacity_dose2


async def take_seats(conn: AsyncConnection, session_id: str, dose: int, n: int) -> bool:
    """Take ``n`` seats of ``dose`` in one atomic statement; False if they are not all free."""
    booked, capacity = _seat_columns(dose)
    result = await conn.execute(
        sessions.update()
        .where(sessions.c.session_id == session_id, booked + n <= capacity)
        .values({booked.name: booked + n})
    )
    return bool(result.rowcount == 1)


async def give_back(conn: AsyncConnection, session_id: str, dose: int, n: int) -> None:
    """Return ``n`` seats of ``dose`` (a cancelled, moved or undone booking)."""
    booked, _ = _seat_columns(dose)
    await conn.execute(sessions.update().where(sessions.c.session_id == session_id).values({booked.name: booked - n}))
