"""Paper records: doses written down while the server failed, waiting in a vaccinator's outbox for batch sync."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PaperRecord:
    """A dose written on paper while the server failed, waiting for batch sync."""

    sync_record: dict[str, Any]  # what /staff/sync receives: the dose's fields and its client_record_id
    entry: dict[str, Any]  # its ledger entry, marked synced once the server has it
    recorded_at: float  # when it was written down (time.time()), for the sync lag
    center_id: int  # the centre whose staff send it

    @property
    def client_record_id(self) -> str:
        return str(self.sync_record["client_record_id"])


class Outbox(list[PaperRecord]):
    """Paper records waiting for batch sync (one per vaccinator)."""
