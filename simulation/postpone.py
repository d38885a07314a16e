"""Postpone and rebook: a share of those who arrive during a fallback go home with a new appointment.

Under a policy with ``postpone_share`` > 0, a beneficiary who is admitted (at arrival, or at
opening for the early) while the site works on paper or the system is down is *affected*; each
affected beneficiary is sent home with a rebooked appointment when their uniform draw, from the
``postpone`` stream, is below the share (issue 19: districts rescheduled part of the day's list).
The draws are made per beneficiary for every policy of the replication (common random numbers):
with a larger share, those rebooked under a smaller one are rebooked too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulation.availability import DOWN
from simulation.plan import SitePlan
from vaxdrill.core.scenario.model import Scenario

SiteModel = Any
"""A :class:`simulation.site.SiteModel` (not imported: the site model imports this module)."""

REASON = "postponed"
"""The ``turned_away_by`` reason of a beneficiary sent home with a new appointment."""


def draw(scenario: Scenario, plans: list[SitePlan], rng: np.random.Generator) -> None:
    """Each site's uniforms, in site order; only when some policy postpones (other draws unchanged)."""
    if not any(p.postpone_share > 0 for p in scenario.policies.values()):
        return
    for plan in plans:
        n = plan.booked + plan.walk_ins + plan.substitutes
        plan.postpone = rng.random(n).tolist()


class Postpone:
    """One site's postponement under a policy with ``postpone_share`` > 0."""

    __slots__ = ("affected", "model", "share", "u")

    def __init__(self, model: SiteModel, share: float, u: list[float]) -> None:
        self.model, self.share, self.u = model, share, u
        self.affected = 0  # admitted while on paper or the system down
        model.turned_away[REASON] = 0

    @staticmethod
    def of(model: SiteModel) -> Postpone | None:
        share: float = getattr(model.policy, "postpone_share", 0.0)
        if share <= 0 or not model.plan.postpone:
            return None
        return Postpone(model, share, model.plan.postpone)

    def sends_home(self, i: int) -> bool:
        """Whether beneficiary ``i``, admitted now, is sent home with a new appointment (then gone)."""
        m = self.model
        if not m.mode.paper and (m.timeline.always_up or m.timeline.state_at(m.env.now) != DOWN):
            return False
        self.affected += 1
        if self.u[i] >= self.share:
            return False
        m.waiting -= 1
        m._leave(REASON)
        return True
