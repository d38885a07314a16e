"""A district-wide order to go to paper, reaching each site after its own random delay.

Issue 19: on launch day the order to switch to paper reached sites at different times; some
districts had standing orders, others waited hours. Under ``district_order`` a site has *failed* once
its system (the central server or its own link) has been down for ``after``, noticed from opening as
under ``offline_after``. The district gives the order when the ``sites_failed``-th site fails; site
*i* receives it ``delay_i`` later and works on paper for the rest of the day (an order is not
withdrawn the same day: ASSUMPTION).

The delays come from their own stream per policy (``district_order.<policy name>``), one draw per
site in site order: every policy and every replication of a seed sees the same delays, and adding a
policy does not move another's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from simulation.availability import Timeline
from simulation.policies import Switch
from simulation.streams import stream
from vaxdrill.core.scenario.policies import DistrictOrder, Policy


def failed_at(timeline: Timeline, opens: float, after: float) -> float:
    """When the site has first been down for ``after`` since opening (inf: never)."""
    for start, end in timeline.down_intervals(opens):
        noticed = max(start, opens)
        if end - noticed >= after:
            return noticed + after
    return math.inf


def order_time(policy: DistrictOrder, timelines: Sequence[Timeline], opens: Sequence[float]) -> float:
    """When the district gives the order: the ``sites_failed``-th failure (inf: too few sites fail)."""
    failures = sorted(failed_at(tl, o, policy.after) for tl, o in zip(timelines, opens, strict=True))
    return failures[policy.sites_failed - 1] if policy.sites_failed <= len(failures) else math.inf


def order_delays(policy: DistrictOrder, name: str, root: int, replication: int, sites: int) -> list[float]:
    """Each site's delay for the order to reach it, from the policy's own stream."""
    return policy.delay.sample(stream(root, replication, f"district_order.{name}"), sites).tolist() if sites else []


def order_switches(order: float, delay: float) -> list[Switch]:
    """The site's switch: paper from when the order reaches it, for the rest of the day."""
    return [] if order == math.inf else [(order + delay, True)]


def order_assumptions(policies: Iterable[Policy]) -> list[str]:
    """What a district order assumes, as a planner would say it."""
    return [
        f"a district order is given when {p.sites_failed} sites have been down {p.after / 60:.0f} min and reaches "
        f"each site after a random delay (mean {p.delay.expected() / 60:.0f} min)"
        for p in policies
        if isinstance(p, DistrictOrder)
    ]
