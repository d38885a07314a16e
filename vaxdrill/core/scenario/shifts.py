"""Shifts and roles at a session site (issue 19, item 3): when staff leave, their breaks, who does which job.

Without a ``shift`` the site works as before: staff stay until the last beneficiary has left
(``at_close``). With one, staff leave at ``ends``: beneficiaries still waiting then are sent home
(``send_home``) or told to come back another day (``rebook``); those being served are finished.
A break takes one staff member of each listed station away for its duration (staggered breaks: a
one-person station stops). ``roles`` lets existing staff do a second job instead of an extra person:
the vaccinator records the dose (as at the dry runs), the verifier enters paper records between
beneficiaries.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vaxdrill.core.scenario.base import Strict
from vaxdrill.core.scenario.units import ClockTime, Duration

StationName = Literal["entry", "verification", "vaccination", "recording"]
STATIONS: tuple[StationName, ...] = ("entry", "verification", "vaccination", "recording")


class Break(Strict):
    """One staff member of each listed station is away from ``start`` for ``duration``."""

    start: ClockTime
    duration: Duration = Field(gt=0, le=4 * 3600)
    stations: list[StationName] = Field(
        default_factory=lambda: list(STATIONS),
        description="Stations whose staff take this break (one member each).",
    )


class Shift(Strict):
    """When the staff's day ends, and their breaks."""

    ends: ClockTime | None = Field(
        None, description="Staff leave at this time (none: they stay until everyone is served)."
    )
    at_shift_end: Literal["send_home", "rebook"] = Field(
        "send_home", description="Those still waiting when staff leave are sent home, or rebooked for another day."
    )
    breaks: list[Break] = Field(default_factory=list, max_length=20)


class Roles(Strict):
    """Station staff doing a second job instead of an extra person."""

    vaccinator_records: bool = Field(
        False, description="The vaccinator records each dose before the next beneficiary (no recording clerk)."
    )
    verifier_back_entry: bool = Field(
        False, description="The verifier(s) enter paper records between beneficiaries (no back-entry clerk)."
    )
