"""Turnout: whether each booked beneficiary comes, and how many waiting-list people take empty places.

The reminder SMS acts on top of the turnout share: with ``arrivals.turnout`` set, a beneficiary whose
SMS arrived comes with probability ``turnout``; one whose SMS was lost comes with
``turnout * (1 - no_show_without_sms) / (1 - no_show)``, the SMS effect of the clinic-study figures
(2% against 15% no-shows: the lost SMS costs 13% of the comers). Without ``turnout`` the draw is the
original ``u >= no_show`` comparison, so scenarios that do not set it keep every figure.

Substitutes are not on the day's list: they are registered on the spot like walk-ins and arrive
uniformly over the session (their own ``substitutes`` stream, drawn only when the waiting list is not
empty). Their number is fixed before the day, from those booked who come: people on the waiting list
are called in the morning, when the list's turnout is known from the attendance so far (ASSUMPTION).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vaxdrill.core.scenario.sites import Arrivals, Site


def turnout_assumptions(sites: Sequence[Site]) -> list[str]:
    """What the answer assumes about who comes, as a planner would say it."""
    if not sites:
        return ["0% of the booked do not come when the SMS arrives"]
    if all(s.arrivals.turnout is None for s in sites):
        shows = np.mean([s.arrivals.no_show for s in sites])
        out = [f"{shows:.0%} of the booked do not come when the SMS arrives"]
    else:
        share = np.mean([1.0 - s.arrivals.no_show if s.arrivals.turnout is None else s.arrivals.turnout for s in sites])
        out = [f"{share:.0%} of the booked come when the SMS arrives"]
    listed = [s for s in sites if s.arrivals.substitution.waiting_list]
    if listed:
        out.append(f"{len(listed)} of {len(sites)} sites admit people from a waiting list into empty places")
    return out


def comes(arr: Arrivals, delivered: np.ndarray, u_show: np.ndarray) -> np.ndarray:
    """Which booked beneficiaries come, from their SMS delivery and a uniform each."""
    if arr.turnout is None:
        return np.asarray(u_show >= np.where(delivered, arr.no_show, arr.no_show_without_sms))
    # The SMS effect as a ratio; a no_show of 100% leaves no effect to scale by.
    effect = (1.0 - arr.no_show_without_sms) / (1.0 - arr.no_show) if arr.no_show < 1.0 else 1.0
    p = np.where(delivered, arr.turnout, min(1.0, arr.turnout * effect))
    return np.asarray(u_show < p)


def places(site: Site, came: int) -> int:
    """Empty places the waiting list may fill: the cap, or the doses of the vials opened, minus comers."""
    sub = site.arrivals.substitution
    if sub.cap is not None:
        limit = sub.cap
    else:
        per_vial = site.vials.doses_per_vial
        limit = math.ceil(site.booked / per_vial) * per_vial
    if site.vials.stock is not None:
        limit = min(limit, site.vials.stock)
    return max(0, limit - came)


def substitutes(site: Site, came: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted arrival times of the waiting-list people admitted (empty when there is no waiting list)."""
    n = min(site.arrivals.substitution.waiting_list, places(site, came))
    if n == 0:
        return np.empty(0)
    return np.sort(rng.uniform(site.opens, site.closes, n))
