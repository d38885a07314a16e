"""One replication of a scenario's day under each policy, with common random numbers.

The replication's randomness is drawn once (outage realisations, then each site's plan) and every
policy is simulated on the same draws. Sites interact only through the central server, whose
states are realised beforehand, so each site runs in its own small SimPy environment: the event
heap stays small and a national day of thousands of sites costs the sum of its sites.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simulation import availability as av
from simulation import postpone, quality
from simulation.district import order_delays, order_switches, order_time
from simulation.flow import FlowSiteModel
from simulation.gcpause import collector_paused, kept_out_of_collections
from simulation.metrics import GRID, DayTotals, Metrics, site_metrics
from simulation.persite import draw_sites
from simulation.plan import SitePlan, draw_site
from simulation.policies import switches
from simulation.serverload import ServerLoad, server_load
from simulation.site import SiteModel
from simulation.streams import streams
from simulation.triggers import first_system_latencies, slow_switches
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.policies import DistrictOrder, OfflineWhenSlow, Policy, Wait
from vaxdrill.core.scenario.sites import Site


@dataclass
class PolicyDay:
    """What one policy gave in one replication."""

    total: Metrics
    sites: dict[str, Metrics]
    series: dict[str, list[float]]


@dataclass
class ReplicationResult:
    replication: int
    policies: dict[str, PolicyDay]
    share_down: list[float] = field(default_factory=list)  # share of sites without the system, on GRID
    central_down: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Day:
    """A replication's realised randomness: timelines and plans, shared by every policy."""

    central: av.Timeline
    timelines: list[av.Timeline]
    plans: list[SitePlan]
    load: ServerLoad | None = None  # a measured server profile at the day's offered load
    sites: list[Site] | None = None  # the replication's sites when some differ (``per_site``)
    drawn: list[dict[str, float]] = field(default_factory=list)  # each site's drawn ``per_site`` values
    root: int = 0  # the seed and replication, for draws made per policy (``district_order`` delays)
    replication: int = 0


def realise(scenario: Scenario, root: int, replication: int) -> Day:
    """Draw the replication's outages and every site's plan, in a fixed order."""
    rngs = streams(root, replication)
    server = scenario.server
    start = min((s.opens for s in scenario.sites), default=0.0)
    central_iv = av.scripted(server.outages)
    if server.failures is not None:
        central_iv += av.alternating(server.failures, rngs["server_failures"], start)
    central = av.Timeline(central_iv)
    load = server_load(server)
    timelines: list[av.Timeline] = []
    plans: list[SitePlan] = []
    sites, drawn = draw_sites(scenario, root, replication)
    for site in sites:
        link = av.scripted(site.connectivity.outages)
        if site.connectivity.failures is not None:
            link += av.alternating(site.connectivity.failures, rngs["connectivity"], site.opens)
        timelines.append(central if not link else av.Timeline(central_iv + link))
        plans.append(draw_site(site, scenario.sms, central, server.latency, rngs, profiled=load is not None))
    postpone.draw(scenario, plans, rngs["postpone"])
    differ = any(drawn)
    return Day(
        central=central,
        timelines=timelines,
        plans=plans,
        load=load,
        sites=sites if differ else None,
        drawn=drawn if differ else [],
        root=root,
        replication=replication,
    )


def simulate_policy(scenario: Scenario, day: Day, policy_name: str, policies: dict[str, Policy]) -> PolicyDay:
    """Simulate every site of ``day`` under one policy (sites pinned to a policy keep theirs)."""
    totals = DayTotals()
    per_site: list[Metrics] = []
    sites = day.sites or scenario.sites
    orders: dict[str, tuple[float, list[float]]] = {}
    for k, (site, plan, tl) in enumerate(zip(sites, day.plans, day.timelines, strict=True)):
        key = site.policy or policy_name
        policy = policies[key]
        if isinstance(policy, DistrictOrder):
            if key not in orders:  # once per policy and day: the order depends on every site
                order = order_time(policy, day.timelines, [s.opens for s in sites])
                orders[key] = (order, order_delays(policy, key, day.root, day.replication, len(sites)))
            order, delays = orders[key]
            rules = order_switches(order, delays[k])
        elif isinstance(policy, OfflineWhenSlow):
            latencies = first_system_latencies(plan.stations)
            rules = slow_switches(policy, tl, site.opens, latencies, scenario.server, day.load)
        else:
            rules = switches(policy, tl, site.opens)
        kind = FlowSiteModel if site.flow else SiteModel
        model = quality.prepare(kind(site, plan, tl, scenario.server, policy, rules, day.load), scenario.data_quality)
        model.run()
        per_site.append(site_metrics(model, scenario.checkpoints))
        # Only when asked (issue 19, items 5 and 6): older scenarios' outputs unchanged.
        if scenario.data_quality is not None:
            rng = quality.quality_stream(day.root, day.replication, k)
            per_site[-1].update(quality.quality_metrics(model, scenario.data_quality, rng))
        if scenario.reporting is not None:
            per_site[-1].update(quality.reporting_metrics(model, scenario.reporting))
        if day.drawn:
            per_site[-1].update({f"drawn.{path}": v for path, v in day.drawn[k].items()})
        totals.add(model)
        model.dispose()
    return PolicyDay(
        total=totals.total(per_site),
        sites={s.name: mm for s, mm in zip(scenario.sites, per_site, strict=True)},
        series=totals.series(),
    )


def policies_of(scenario: Scenario, names: Sequence[str] | None = None) -> dict[str, Policy]:
    """The policies to compare: those named, else every policy of the scenario, else ``wait``."""
    available: dict[str, Policy] = dict(scenario.policies) or {"wait": Wait(rule="wait")}
    if not names:
        return available
    return {n: available[n] for n in names}


def run_replication(
    scenario: Scenario, root: int, replication: int, policy_names: Sequence[str] | None = None
) -> ReplicationResult:
    """Run one replication of every chosen policy on the same random numbers."""
    chosen = policies_of(scenario, policy_names)
    everything = {**dict(scenario.policies), **chosen}
    with collector_paused():
        day = realise(scenario, root, replication)
    with kept_out_of_collections():
        results = {name: simulate_policy(scenario, day, name, everything) for name in chosen}
    share = np.zeros(GRID.size)
    for tl in day.timelines:
        share += tl.share_down(GRID)
    if day.timelines:
        share /= len(day.timelines)
    return ReplicationResult(
        replication=replication,
        policies=results,
        share_down=share.tolist(),
        central_down=day.central.down_intervals(),
    )
