"""Live figures of a running load test, read from Locust's ``locust_stats_history.csv``.

Locust appends one row per second to that file (``--csv-full-history``); the last ``Aggregated``
row holds the current requests/s, failures/s and the response-time percentiles of the last few
seconds. In a terminal they stand beside the progress bar; when output is not a terminal (CI,
``| tee``) a plain line every :data:`EVERY_S` seconds says the run is alive::

    progress 20 s of 60 s: 41.2 req/s, errors 0.5%, p95 38 ms
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

EVERY_S = 10.0
_TAIL_BYTES = 16_384


@dataclass(frozen=True)
class Live:
    """Requests/s, share failed (of the current requests/s) and p95 in ms (``None``: none yet)."""

    rps: float
    error_share: float
    p95_ms: float | None

    def text(self) -> str:
        p95 = "-" if self.p95_ms is None else f"{self.p95_ms:.0f} ms"
        return f"{self.rps:.1f} req/s, errors {self.error_share:.1%}, p95 {p95}"


def read_live(history: Path) -> Live | None:
    """The last ``Aggregated`` row of Locust's history CSV; ``None`` before there is one."""
    try:
        with history.open("rb") as fh:
            size = fh.seek(0, io.SEEK_END)
            fh.seek(max(0, size - _TAIL_BYTES))
            tail = fh.read().decode("utf-8", errors="replace")
            fh.seek(0)
            header = fh.readline().decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [line for line in tail.splitlines() if ",Aggregated," in line]
    if not header or not lines:
        return None
    row = next(csv.DictReader([header.strip(), lines[-1]]))
    try:
        rps = float(row["Requests/s"])
        failures = float(row["Failures/s"])
    except (KeyError, ValueError):
        return None
    p95_text = row.get("95%", "N/A")
    try:
        p95: float | None = float(p95_text) if p95_text not in ("N/A", "") else None
    except ValueError:
        p95 = None
    return Live(rps=rps, error_share=failures / rps if rps > 0 else 0.0, p95_ms=p95 if rps > 0 else None)


def progress_line(elapsed_s: float, expected_s: float, live: Live | None) -> str:
    """The line printed every :data:`EVERY_S` seconds when output is not a terminal."""
    figures = live.text() if live is not None else "no requests yet"
    if elapsed_s > expected_s:  # the load has ended: outboxes drain, the integrity check runs
        return f"progress {elapsed_s:.0f} s (the {expected_s:.0f} s of load are over; finishing): {figures}"
    return f"progress {elapsed_s:.0f} s of {expected_s:.0f} s: {figures}"


class Ticker:
    """Says when the next plain progress line is due (every ``every_s`` seconds of the run)."""

    def __init__(self, every_s: float = EVERY_S) -> None:
        self.every_s = every_s
        self._next = every_s

    def due(self, elapsed_s: float) -> bool:
        if elapsed_s < self._next:
            return False
        while self._next <= elapsed_s:
            self._next += self.every_s
        return True
