"""A booking request and what came of it, shared by the batcher that applies it and the route that answers.

An outcome is :class:`Booked` (the appointment id), :class:`UnderAge` (which beneficiary) or a
:class:`Refusal` that needs no detail. The ``schedule`` route turns each into its HTTP answer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class Booking:
    """One ``schedule`` request, its ownership and age checks still to be made."""

    session_id: str
    dose: int
    slot: str
    refs: tuple[str, ...]
    mobile: str  # every beneficiary must be registered with this mobile
    born_by: int  # ... and born in this year or earlier (the session's age limit)


@dataclass(frozen=True)
class Booked:
    """Seats taken and one appointment stored per beneficiary, all under ``appointment_id``."""

    appointment_id: str


@dataclass(frozen=True)
class UnderAge:
    """A beneficiary (the first in the request's order) is under the session's age limit."""

    beneficiary_reference_id: str


class Refusal(enum.Enum):
    """Why a booking took no seat, when the reason needs no detail."""

    FULL = enum.auto()  # fewer free seats than beneficiaries
    ALREADY_BOOKED = enum.auto()  # a beneficiary already holds a live appointment for this dose
    NOT_REGISTERED = enum.auto()  # a beneficiary is not registered with the booking's mobile


Outcome = Booked | UnderAge | Refusal


def check_beneficiaries(booking: Booking, people: dict[str, tuple[str, int]]) -> UnderAge | Refusal | None:
    """Refuse a booking naming someone not registered with its mobile, or under the age limit.

    ``people`` maps each known reference id to its ``(mobile, birth_year)``; None means go on.
    """
    if any(people.get(ref, ("", 0))[0] != booking.mobile for ref in booking.refs):
        return Refusal.NOT_REGISTERED
    young = [ref for ref in booking.refs if people[ref][1] > booking.born_by]
    return UnderAge(young[0]) if young else None
