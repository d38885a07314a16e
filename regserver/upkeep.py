"""Each worker's background upkeep: follow key rotations, purge what is no longer needed.

* Every ``KEY_SECONDS`` the worker re-reads the token generation, so a rotation made on another worker
  revokes old tokens here too within that time.
* Every ``config.purge_interval`` seconds it deletes OTP transactions older than the OTP rate-limit
  window (and the OTP lifetime), and SMS outbox rows older than the OTP lifetime: the outbox holds
  OTPs in plain text, which are of no use to anyone once they have expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from regserver.db import Database, otp_txns, sms_outbox
from regserver.keys import refresh
from regserver.state import ServerState

KEY_SECONDS = 0.5


async def purge(db: Database, otp_ttl: float, otp_window: float, now: float | None = None) -> tuple[int, int]:
    """Delete expired OTP transactions and SMS rows; how many of each."""
    now = time.time() if now is None else now
    async with db.write() as conn:
        txns = await conn.execute(otp_txns.delete().where(otp_txns.c.created_at < now - max(otp_window, otp_ttl)))
        sms = await conn.execute(sms_outbox.delete().where(sms_outbox.c.created_at < now - otp_ttl))
    return int(txns.rowcount or 0), int(sms.rowcount or 0)


class Upkeep:
    """The background task of one worker (started and stopped by the app's lifespan)."""

    def __init__(self, st: ServerState) -> None:
        self.st = st
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        cfg = self.st.config
        next_purge = 0.0
        while True:
            with contextlib.suppress(Exception):  # a busy database must not end the upkeep
                self.st.keys = await refresh(self.st.db, self.st.keys)
                if time.monotonic() >= next_purge:
                    await purge(self.st.db, cfg.otp_ttl, cfg.otp_window)
                    next_purge = time.monotonic() + cfg.purge_interval
            await asyncio.sleep(KEY_SECONDS)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
