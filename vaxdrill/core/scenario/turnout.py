"""Turnout inputs: who of the booked comes, and who from a waiting list takes the empty places.

Launch day (16 Jan 2021) turnout was far below the 2% no-shows of the clinic studies: MoHFW reported
about 1.91 lakh vaccinated against a target of about 3 lakh (press release, 16 Jan 2021; Hindustan
Times, 17 Jan 2021), and several districts admitted health workers who were not on the day's list
(The Hindu, 17 Jan 2021). Both are inputs here; their defaults reproduce the clinic-study model.
"""

from __future__ import annotations

from pydantic import Field

from vaxdrill.core.scenario.base import Strict

MAX_WAITING = 10_000
"""Bound on a site's waiting list (the same as a site's people)."""


class Substitution(Strict):
    """People not on the day's list admitted in the places of those who did not come.

    The number admitted is the waiting list, at most the empty places: ``cap`` minus those booked who
    came, or, without a cap, the doses of the vials opened for the day's list (the booked count
    rounded up to whole vials) minus those who came, so no opened vial is wasted for want of people.
    """

    waiting_list: int = Field(
        0, ge=0, le=MAX_WAITING, description="People on the site's waiting list (0: nobody is substituted)."
    )
    cap: int | None = Field(
        None,
        ge=0,
        le=MAX_WAITING,
        description="Most people the site admits in all (booked who came plus substitutes); none = the "
        "doses of the vials opened for the day's list.",
    )
