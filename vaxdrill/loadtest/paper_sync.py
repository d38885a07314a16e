"""What a vaccinator makes of the server's answer to a batch of paper records.

The server answers every record of a batch on its own (``created``, ``duplicate``, ``conflict``,
``rejected``). A record it holds (the first three) leaves the outbox as synced. A record it rejected
is *final*: the same record sent again gets the same answer, so it also leaves the outbox, as
``refused`` (the dose was given, the server will not hold it: the integrity check reports it lost).
A batch refused as a whole with a definite 4xx (too large, malformed) is final the same way. Only a
batch with no final answer (no answer, 5xx, 401 to log in again, 408, 429, 409 in flight) is sent again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HELD = frozenset({"created", "duplicate", "conflict"})


def definite_refusal(status: int, error_code: str | None) -> bool:
    """A 4xx that asking again would not change (not 401, 408, 429, nor 409 ``IDEMPOTENCY_IN_FLIGHT``)."""
    if status == 409 and error_code == "IDEMPOTENCY_IN_FLIGHT":
        return False
    return 400 <= status < 500 and status not in (401, 408, 429)


@dataclass(frozen=True)
class Settled:
    """A batch's outcome: ``again`` (send the whole batch again), else per record held or refused."""

    again: bool
    held: dict[str, str] = field(default_factory=dict)  # client_record_id -> created/duplicate/conflict
    refused: dict[str, str] = field(default_factory=dict)  # client_record_id -> the reason


def settle(client_record_ids: Sequence[str], status: int, error_code: str | None, body: Any) -> Settled:
    """Read one batch answer (``status`` 0: none) for the records sent, in their order."""
    if not 200 <= status < 300:
        if not definite_refusal(status, error_code):
            return Settled(again=True)
        why = f"batch refused: HTTP {status} {error_code or ''}".strip()
        return Settled(again=False, refused=dict.fromkeys(client_record_ids, why))
    results = body.get("results", []) if isinstance(body, Mapping) else []
    answered = {str(r.get("client_record_id")): r for r in results if isinstance(r, Mapping)}
    held: dict[str, str] = {}
    refused: dict[str, str] = {}
    for key in client_record_ids:
        result = answered.get(key)
        if result is not None and result.get("status") in HELD:
            held[key] = str(result["status"])
        else:
            refused[key] = str(result.get("reason")) if result is not None else "no answer for this record"
    return Settled(again=False, held=held, refused=refused)
