"""What a simulation run will cost, estimated before it starts, and the budget it must stay within.

The figures are rough on purpose (measured on a 2-core machine: about 20 µs and a few hundred bytes
per simulated person); they tell a run of minutes from one of days, or one that would need 11 GB.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaxdrill.core.errors import SimulationError
from vaxdrill.core.scenario.model import Scenario

SECONDS_PER_PERSON = 50e-6
"""Simulated time of one person in one replication of one policy, with margin."""
BYTES_PER_PERSON = 1_000
"""Memory a replication holds per person (events, records), with margin."""
BASE_BYTES = 250 * 2**20
"""A worker process before it simulates anyone (Python, NumPy, SimPy)."""
TIME_BUDGET = 3600.0
MEMORY_BUDGET = 4 * 2**30


@dataclass(frozen=True)
class RunCost:
    people: int
    """People simulated in one replication (booked plus expected walk-ins, all sites)."""
    seconds: float
    memory_bytes: int

    def over_budget(self) -> str | None:
        """Why the run is over :data:`TIME_BUDGET` or :data:`MEMORY_BUDGET`, or None."""
        reasons = []
        if self.seconds > TIME_BUDGET:
            reasons.append(f"about {_hours(self.seconds)} (budget {_hours(TIME_BUDGET)})")
        if self.memory_bytes > MEMORY_BUDGET:
            reasons.append(f"about {self.memory_bytes / 2**30:.1f} GiB (budget {MEMORY_BUDGET / 2**30:.0f} GiB)")
        return " and ".join(reasons) or None


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def estimate(scenario: Scenario, replications: int, policies: int, workers: int = 1) -> RunCost:
    """The cost of ``replications`` × ``policies`` runs of every site, spread over ``workers`` processes."""
    people = sum(
        site.booked + site.arrivals.walk_ins_per_hour * (site.closes - site.opens) / 3600.0 for site in scenario.sites
    )
    runs = replications * max(policies, 1)
    seconds = people * runs * SECONDS_PER_PERSON / max(min(workers, runs), 1)
    memory = (BASE_BYTES + people * BYTES_PER_PERSON) * max(min(workers, runs), 1)
    return RunCost(round(people), seconds, round(memory))


def check_budget(scenario: Scenario, replications: int, policies: int, workers: int = 1, force: bool = False) -> None:
    """Raise :class:`SimulationError` (exit 2) when the run is estimated over budget, unless ``force``."""
    cost = estimate(scenario, replications, policies, workers)
    why = cost.over_budget()
    if why is not None and not force:
        raise SimulationError(
            f"{scenario.name}: {cost.people:,} people × {replications:,} replication(s) × {policies} policy(ies) "
            f"is estimated at {why}; use fewer replications or sites, or --force to run it anyway"
        )
