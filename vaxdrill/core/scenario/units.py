"""Quantities as people write them: durations (``90s``, ``30min``, ``4h``, ``1h30min``),
clock times (``09:30``) and shares (``2%`` or ``0.02``).

All durations and clock times are held in **seconds** (clock times as seconds after midnight),
so the simulation, the server and the load test share one unit.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d)\s*")
_CLOCK = re.compile(r"^\s*([01]?\d|2[0-4]):([0-5]\d)(?::([0-5]\d))?\s*$")


def parse_duration(value: Any) -> float:
    """Return seconds for ``90s``, ``30min``, ``4h``, ``1h30min``, ``250ms``.

    A bare number is refused: ``30`` could mean seconds or minutes, and guessing wrong
    silently is the worst outcome for a planner.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 90s, 30min or 4h, found {value!r}")
    if isinstance(value, (int, float)):
        if value == 0:
            return 0.0
        raise ValueError(f"expected a duration with a unit such as 90s, 30min or 4h, found the bare number {value!r}")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 90s, 30min or 4h, found {value!r}")
    text = value.strip().lower()
    pos, total, parts = 0, 0.0, 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if not match:
            raise ValueError(f"expected a duration such as 90s, 30min, 4h or 1h30min, found {value!r}")
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos, parts = match.end(), parts + 1
    if parts == 0:
        raise ValueError(f"expected a duration such as 90s, 30min or 4h, found {value!r}")
    if not math.isfinite(total):
        raise ValueError(f"expected a finite duration, found {value!r}")
    return total


def parse_clock(value: Any) -> float:
    """Return seconds after midnight for ``09:30`` (or ``09:30:15``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        # YAML 1.1 reads an unquoted 09:30 as the sexagesimal integer 570 (minutes).
        return float(value) * 60.0
    if not isinstance(value, str):
        raise ValueError(f"expected a clock time such as 09:30, found {value!r}")
    match = _CLOCK.match(value)
    if not match:
        raise ValueError(f"expected a clock time such as 09:30, found {value!r}")
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    total = hours * 3600 + minutes * 60 + seconds
    if total > 24 * 3600:
        raise ValueError(f"expected a clock time no later than 24:00, found {value!r}")
    return float(total)


def parse_share(value: Any) -> float:
    """Return a probability for ``2%``, ``0.02`` or ``0``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            share = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"expected a share such as 2% or 0.02, found {value!r}") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        share = float(value)
    else:
        raise ValueError(f"expected a share such as 2% or 0.02, found {value!r}")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"expected a share between 0% and 100%, found {value!r}")
    return share


def format_duration(seconds: float) -> str:
    """Inverse of :func:`parse_duration`, for messages and resolved scenarios.

    The text always parses back to ``seconds``: the short form (``90s``, ``4h``) when it does, else
    every digit in plain notation (``1000001s``, never ``1e+06s``, which no parser here reads).
    """
    short = _short_duration(seconds)
    try:
        if parse_duration(short) == seconds:
            return short
    except ValueError:
        pass
    return f"{_plain(seconds)}s"


def _short_duration(seconds: float) -> str:
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g}min"
    return f"{seconds:g}s"


def _plain(number: float) -> str:
    """``number`` in positional notation with the digits of its shortest repr (no exponent)."""
    text = format(Decimal(repr(float(number))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_clock(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


_DURATION_SCHEMA = {
    "type": "string",
    "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|sec|min|s|m|h|d)\s*)+$",
    "description": "A duration with a unit: 250ms, 90s, 30min, 4h, 1h30min.",
    "examples": ["90s", "30min", "4h"],
}

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(_DURATION_SCHEMA),
]
"""Seconds, written with a unit."""

ClockTime = Annotated[
    float,
    BeforeValidator(parse_clock),
    PlainSerializer(format_clock, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01]?\d|2[0-4]):[0-5]\d(:[0-5]\d)?$",
            "description": "A clock time, HH:MM (quote it in YAML: '09:30').",
            "examples": ["09:30"],
        }
    ),
]
"""Seconds after midnight, written as HH:MM."""

Share = Annotated[
    float,
    BeforeValidator(parse_share),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 1},
                {"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
            ],
            "description": "A probability: 0.02 or 2%.",
        }
    ),
]
"""A probability in [0, 1], written as 0.02 or 2%."""
