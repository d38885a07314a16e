"""What failed in a load test, for the engineer: Locust's ``locust_failures.csv`` as a table, and
the files a report links to.

Locust writes one row per (method, name, error) with its occurrences; the error is an exception's
repr (``CatchResponseError('HTTP 503')``, ``LocustBadStatusCode(code=503)``, ``ConnectionResetError(...)``).
Each row becomes: endpoint, method, status (or the exception's name), message, count, share of all
requests.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

_STATUS = re.compile(r"(?:HTTP |code=)(\d{3})")

# Files of a load test's folder a report links to, with their labels.
LOADTEST_FILES = (
    ("Locust's own HTML report", "locust-report.html"),
    ("summary (JSON)", "summary.json"),
    ("requests per endpoint (CSV)", "locust_stats.csv"),
    ("failures (CSV)", "locust_failures.csv"),
    ("statistics over time (CSV)", "locust_stats_history.csv"),
    ("exceptions (CSV)", "locust_exceptions.csv"),
    ("server log", "server.log"),
)


def status_of(error: str) -> str:
    """``"503"`` from an HTTP error; else the exception's name (``"ConnectionResetError"``)."""
    found = _STATUS.search(error)
    if found:
        return found.group(1)
    return error.split("(", 1)[0].strip() or "error"


def message_of(error: str) -> str:
    """The exception's message without its class: ``CatchResponseError('HTTP 503')`` -> ``HTTP 503``."""
    inner = error.split("(", 1)[1].rsplit(")", 1)[0] if "(" in error else error
    inner = inner.strip().strip("'\"")
    found = _STATUS.fullmatch(inner) or _STATUS.fullmatch(inner.replace("code=", "code="))
    if inner.startswith("code=") and found:
        return f"HTTP {found.group(1)}"
    return inner or error


def failure_rows(folder: Path, total_requests: int) -> list[list[str]]:
    """Rows (endpoint, method, status, message, count, share of all requests), most frequent first."""
    path = folder / "locust_failures.csv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        found = [(r.get("Name", ""), r.get("Method", ""), r.get("Error", ""), int(r.get("Occurrences") or 0))
                 for r in csv.DictReader(fh)]  # fmt: skip
    found.sort(key=lambda r: -r[3])
    rows = []
    for name, method, error, count in found:
        share = f"{count / total_requests:.1%}" if total_requests else "-"
        rows.append([name, method, status_of(error), message_of(error), f"{count:,}", share])
    return rows


def links(folder: Path, prefix: str = "") -> list[tuple[str, str]]:
    """(label, href) for each of :data:`LOADTEST_FILES` present in ``folder``; hrefs start with ``prefix``."""
    return [(label, f"{prefix}{name}") for label, name in LOADTEST_FILES if (folder / name).is_file()]
