"""When a site works on paper: each fallback policy turned into switch times over the day.

Every policy except ``offline_when_queue`` depends only on the site's availability
:class:`~simulation.availability.Timeline`, which is realised before the day is simulated, so its
switches are computed here as a list of ``(clock time, paper?)``. ``offline_when_queue`` depends on
the queue, which only the running model knows; the site model applies it (see
:meth:`simulation.site.SiteModel._queue_trigger`). ``offline_when_slow`` also needs the site's
latency draws and the server: :mod:`simulation.triggers` computes its switches.
"""

from __future__ import annotations

import math

from simulation.availability import Timeline
from vaxdrill.core.scenario.policies import (
    DistrictOrder,
    OfflineAfter,
    OfflineAt,
    OfflineFirst,
    OfflineWhenQueue,
    OfflineWhenSlow,
    Policy,
    Wait,
)

Switch = tuple[float, bool]


def switches(policy: Policy, timeline: Timeline, opens: float) -> list[Switch]:
    """The site's switches to paper (True) and back online (False), in time order."""
    if isinstance(policy, Wait | OfflineWhenQueue | OfflineWhenSlow | DistrictOrder):  # run time, triggers, district
        return []
    if isinstance(policy, OfflineFirst):
        return [(0.0, True)]
    if isinstance(policy, OfflineAt):
        return [(policy.at, True)]
    assert isinstance(policy, OfflineAfter)
    out: list[Switch] = []
    online_from = opens  # an outage is noticed from opening, or from the last return online
    for start, end in timeline.down_intervals(opens):
        if end <= online_from:
            continue
        noticed = max(start, online_from)
        if end - noticed <= policy.after:
            continue  # the system came back before the trigger
        to_paper = noticed + policy.after + policy.escalation
        back = timeline.stable_from(to_paper, policy.back_after)
        if back <= to_paper:
            continue  # the order arrives when the system has already been stable long enough
        out.append((to_paper, True))
        if back == math.inf:
            break
        out.append((back, False))
        online_from = back
    return out
