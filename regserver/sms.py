"""The SMS gateway interface, and the built-in gateway that writes an outbox table.

A real deployment would plug in its provider's gateway; the drill's gateway keeps every message in
``sms_outbox`` with the time it would be delivered. ``sms_drop`` and ``sms_delay`` faults act here.
"""

from __future__ import annotations

import time
from typing import Protocol

from regserver.db import Database, sms_outbox


class SmsGateway(Protocol):
    async def send(self, mobile: str, text: str, *, drop: bool = False, delay: float = 0.0) -> None:
        """Hand one message to the gateway (``drop``/``delay`` come from injected faults)."""


class OutboxGateway:
    """Writes each message to the ``sms_outbox`` table: queued (with its delivery time) or dropped."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def send(self, mobile: str, text: str, *, drop: bool = False, delay: float = 0.0) -> None:
        now = time.time()
        async with self.db.write() as conn:
            await conn.execute(
                sms_outbox.insert().values(
                    mobile=mobile,
                    body=text,
                    created_at=now,
                    deliver_at=now + delay,
                    status="dropped" if drop else "queued",
                )
            )
