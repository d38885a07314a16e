"""The server-profile model: what a measured server does to a transaction at each offered load.

A profile (``server_profile.json``, schema :data:`SCHEMA`) is written by :mod:`vaxdrill.bridges.server_profile`
from a load-test or capacity run and read by the simulation (``server.profile`` in a scenario). The
document's model is :class:`vaxdrill.core.documents.profile.ServerProfileDocument`; this module turns
a valid document into what the simulation uses, so the simulation can read a profile without
depending on the load-test machinery that builds one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaxdrill.core.documents.base import parse_document, read_json_object
from vaxdrill.core.documents.profile import SCHEMA, Point, ServerProfileDocument
from vaxdrill.core.errors import ProfileError
from vaxdrill.core.scenario.units import parse_clock

FILE = "server_profile.json"

__all__ = ["FILE", "SCHEMA", "Point", "ProfileError", "ServerProfile", "parse_profile", "read_profile"]


@dataclass(frozen=True)
class ServerProfile:
    """A validated profile: points sorted by offered load, each with p50, p95 and failure rate."""

    points: tuple[Point, ...]
    knee_rps: float | None
    day_load: tuple[tuple[float, float], ...]  # (clock seconds, rps), sorted
    source: str


def parse_profile(data: Any, where: str) -> ServerProfile:
    """Validate a profile document for the simulation; :class:`ProfileError` says what is wrong."""
    doc = parse_document(data, ServerProfileDocument, where, ProfileError)
    for i, point in enumerate(doc.points):
        if point.p50_ms is None or point.p95_ms is None:
            raise ProfileError(f"{where}: points[{i}]: needs 0 < p50_ms <= p95_ms (both measured)")
    try:
        day = sorted((parse_clock(d.clock), d.rps) for d in doc.day_load or [])
    except ValueError as exc:
        raise ProfileError(f"{where}: day_load: {exc}") from None
    return ServerProfile(points=tuple(doc.points), knee_rps=doc.knee_rps, day_load=tuple(day), source=doc.source)


def read_profile(path: str | Path) -> ServerProfile:
    """Read and validate ``server_profile.json``."""
    path = Path(path)
    return parse_profile(read_json_object(path, ProfileError), str(path))
