"""Sites that differ: each site's ``per_site`` parameters drawn for one replication.

Every site has its own stream, ``SeedSequence(root, spawn_key=(replication, "per_site", index))``,
so a site's draws depend only on the root seed, the replication and the site's position, not on
how many other sites differ or in which order the sites are simulated; every policy of a
replication sees the same sites (common random numbers). The paths and distributions were
checked when the scenario loaded (:mod:`vaxdrill.core.scenario.spread`).
"""

from __future__ import annotations

import numpy as np

from simulation.streams import stream
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.sites import Site
from vaxdrill.core.scenario.spread import Spread, spreads, with_value

Drawn = dict[str, float]


def site_stream(root: int, replication: int, index: int) -> np.random.Generator:
    """Site ``index``'s stream for its ``per_site`` draws."""
    return stream(root, replication, "per_site", index)


def draw_sites(scenario: Scenario, root: int, replication: int) -> tuple[list[Site], list[Drawn]]:
    """The replication's sites, each with its ``per_site`` fields drawn, and the values drawn."""
    sites: list[Site] = []
    drawn: list[Drawn] = []
    resolved: dict[tuple[tuple[str, str], ...], list[Spread]] = {}
    for index, site in enumerate(scenario.sites):
        if not site.per_site:
            sites.append(site)
            drawn.append({})
            continue
        key = tuple(sorted(site.per_site.items()))
        specs = resolved.get(key) if site.flow is None else None
        if specs is None:
            specs = spreads(site)
            if site.flow is None:  # sites with the same fields share one resolution
                resolved[key] = specs
        rng = site_stream(root, replication, index)
        values: Drawn = {}
        for spec in specs:
            value = spec.draw(rng)
            site = with_value(site, spec.parts, int(value) if spec.kind == "int" else value)
            values[spec.path] = value
        sites.append(site)
        drawn.append(values)
    return sites, drawn
