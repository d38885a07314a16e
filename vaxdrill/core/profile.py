"""The server-profile model: what a measured server does to a transaction at each offered load.

A profile (``server_profile.json``, schema :data:`SCHEMA`) is written by :mod:`vaxdrill.bridges.server_profile`
from a load-test or capacity run and read by the simulation (``server.profile`` in a scenario). This
module holds the document's model and its validation only, so the simulation can read a profile
without depending on the load-test machinery that builds one.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaxdrill.core.errors import ProfileError
from vaxdrill.core.scenario.units import parse_clock

SCHEMA = "vaxdrill.server_profile/1"
FILE = "server_profile.json"


@dataclass(frozen=True)
class Point:
    """Behaviour at one offered load. Rates in requests per second, latencies in milliseconds."""

    offered_rps: float
    throughput_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    failure_rate: float
    requests: int


def read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfileError(f"{path}: cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a JSON object")
    return data


# -- reading --------------------------------------------------------------------
@dataclass(frozen=True)
class ServerProfile:
    """A validated profile: points sorted by offered load, each with p50, p95 and failure rate."""

    points: tuple[Point, ...]
    knee_rps: float | None
    day_load: tuple[tuple[float, float], ...]  # (clock seconds, rps), sorted
    source: str


def parse_profile(data: Any, where: str) -> ServerProfile:
    """Validate a profile document; :class:`ProfileError` says what is wrong."""
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: expected a JSON object")
    if data.get("schema") != SCHEMA:
        raise ProfileError(f"{where}: schema is {data.get('schema')!r}, expected {SCHEMA!r}")
    raw = data.get("points")
    if not isinstance(raw, list) or not raw:
        raise ProfileError(f"{where}: `points` must be a non-empty list")
    points = []
    for i, p in enumerate(raw):
        try:
            point = Point(**{k: p[k] for k in Point.__dataclass_fields__})
            ok = (
                point.p50_ms is not None
                and point.p95_ms is not None
                and 0 < point.p50_ms <= point.p95_ms
                and 0.0 <= point.failure_rate <= 1.0
                and point.offered_rps >= 0
            )
        except (KeyError, TypeError) as exc:
            raise ProfileError(f"{where}: points[{i}]: missing or bad field {exc}") from None
        if not ok:
            raise ProfileError(
                f"{where}: points[{i}]: needs 0 < p50_ms <= p95_ms, 0 <= failure_rate <= 1, offered_rps >= 0"
            )
        points.append(point)
    if any(b.offered_rps < a.offered_rps for a, b in itertools.pairwise(points)):
        raise ProfileError(f"{where}: `points` must be sorted by offered_rps")
    knee = data.get("knee_rps")
    day: list[tuple[float, float]] = []
    for i, d in enumerate(data.get("day_load") or []):
        try:
            day.append((parse_clock(d["clock"]), float(d["rps"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"{where}: day_load[{i}]: {exc}") from None
    day.sort()
    return ServerProfile(
        points=tuple(points),
        knee_rps=None if knee is None else float(knee),
        day_load=tuple(day),
        source=str(data.get("source", "")),
    )


def read_profile(path: str | Path) -> ServerProfile:
    """Read and validate ``server_profile.json``."""
    path = Path(path)
    return parse_profile(read_json_object(path), str(path))
