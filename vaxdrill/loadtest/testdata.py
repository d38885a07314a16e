"""Test data unique per simulated user, across worker processes and machines.

A mobile number is ``9`` + a 2-digit worker slot + a 7-digit counter, so worker ``w``'s users
never collide with worker ``v``'s; photo-ID numbers derive from the mobile and the beneficiary's
position. A run id (``VAXDRILL_RUN``) salts names so a second run against the same server
registers new people. With more than 100 workers the slot wraps; give each run its own server.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass

PHOTO_ID_TYPES = ("Aadhaar Card", "Driving License", "PAN Card", "Passport", "Voter ID")  # types 1..5


@dataclass
class Identity:
    """One citizen's mobile and the photo IDs of the beneficiaries they register."""

    mobile: str
    run: str

    def photo_id(self, k: int) -> tuple[int, str]:
        """(Co-WIN photo-ID type number, ID number): alphanumeric, at most 20 characters."""
        digest = hashlib.sha256(f"{self.run}:{self.mobile}:{k}".encode()).hexdigest()
        kind = int(digest[:2], 16) % len(PHOTO_ID_TYPES) + 1
        return kind, f"{self.mobile}{k}{digest[:6].upper()}"

    def name(self, k: int) -> str:
        return f"Drill {self.mobile[-6:]}-{k}"


class IdentityPool:
    """Hands out unique identities for one process (``worker_slot`` from Locust's worker index)."""

    def __init__(self, worker_slot: int, run: str, start: int = 0) -> None:
        if not worker_slot >= 0:
            raise ValueError("worker_slot must be >= 0")
        self.slot = worker_slot % 100
        self.run = run
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def next(self) -> Identity:
        with self._lock:
            n = next(self._counter)
        if n >= 10_000_000:
            raise RuntimeError("this process ran out of unique mobile numbers (10 million)")
        # A per-run offset keeps successive runs against one server apart (unique within a run).
        offset = int(hashlib.sha256(self.run.encode()).hexdigest()[:8], 16) % 10_000_000
        mobile = f"9{self.slot:02d}{(offset + n) % 10_000_000:07d}"
        return Identity(mobile=mobile, run=self.run)
