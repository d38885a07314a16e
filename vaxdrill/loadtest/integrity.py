"""After a drill: did every dose the vaccinators recorded reach the server exactly once?

The Vaccinator users keep a ledger: one entry per dose given, whether it was recorded online
(``Idempotency-Key``) or on paper and later sent through batch sync (``client_record_id``). The
check compares the ledger with ``GET /api/v2/admin/vaccinations`` and the sessions' bookings with
their capacity (``GET /api/v2/admin/sessions``):

- **lost**: a dose given (in the ledger) but not recorded: the server does not have it. The ledger
  holds every dose given, also one the server refused to record (``via: "refused"``);
- **duplicated**: a (beneficiary, dose) the server holds more than once;
- **unsynced**: paper records still in an outbox at the end (the drill ended before they were sent);
- **overbooked**: a session with more bookings than capacity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LedgerEntry:
    """One dose as the vaccinator saw it."""

    beneficiary_reference_id: str
    session_id: str
    dose: int
    via: str  # "online", "paper", or "refused" (given, but the server refused the record)
    key: str  # Idempotency-Key (online) or client_record_id (paper)
    synced: bool = True

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LedgerEntry:
        return cls(
            beneficiary_reference_id=str(data["beneficiary_reference_id"]),
            session_id=str(data["session_id"]),
            dose=int(data["dose"]),
            via=str(data["via"]),
            key=str(data["key"]),
            synced=bool(data.get("synced", True)),
        )


def check(
    ledger: Iterable[LedgerEntry],
    server_vaccinations: Iterable[Mapping[str, Any]],
    server_sessions: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """The integrity verdict for ``summary.json``; ``passed`` is false on any loss, duplicate, overbooking."""
    entries = list(ledger)
    vaccinations = list(server_vaccinations)
    held = Counter((str(v["beneficiary_reference_id"]), int(v["dose"])) for v in vaccinations)
    recorded = Counter((e.beneficiary_reference_id, e.dose) for e in entries)
    lost = sorted(f"{b}/dose{d}" for (b, d) in recorded if held[(b, d)] == 0)
    duplicated = sorted(f"{b}/dose{d}" for (b, d), n in held.items() if n > 1)
    # A dose recorded twice by the drill itself (two vaccinators, one beneficiary) is a client bug.
    double_given = sorted(f"{b}/dose{d}" for (b, d), n in recorded.items() if n > 1)
    unsynced = sum(1 for e in entries if not e.synced)
    overbooked = sorted(
        str(s["session_id"]) for s in server_sessions if int(s.get("booked", 0)) > int(s.get("capacity", 0))
    )
    return {
        "passed": not (lost or duplicated or overbooked or double_given),
        "doses_recorded": len(entries),
        "online": sum(1 for e in entries if e.via == "online"),
        "paper": sum(1 for e in entries if e.via == "paper"),
        "server_vaccinations": len(vaccinations),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "given_twice_by_drill": len(double_given),
        "unsynced_at_end": unsynced,
        "overbooked_sessions": len(overbooked),
        "examples": {"lost": lost[:5], "duplicated": duplicated[:5], "overbooked": overbooked[:5]},
    }
