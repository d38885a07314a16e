"""Running a what-if: the replications of the simulate pipeline, with progress, kept for reuse.

A what-if runs exactly as ``vaxdrill simulate`` runs its scenario (same replications, same root
seed, :func:`simulation.experiment.run_replications` then :func:`~simulation.experiment.summary`),
so its figures equal those of ``vaxdrill simulate`` on the downloaded YAML. The scenario as written
is run with the same seed and replications, so the change against it is paired replication by
replication (the same beneficiaries and the same failures where the what-if did not change them).

Finished runs are kept (the last :data:`KEEP`), so a shared URL, the report download and the
"as written" run of the next what-if are not simulated again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulation.experiment import ci95, run_replications, summary
from simulation.model import ReplicationResult
from vaxdrill.core.errors import SimulationError
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.units import format_clock
from vaxdrill.core.shipped import resolve_scenario
from vaxdrill.ui.whatif import WhatIf, apply

KEEP = 16
CHANGE_METRICS = ("vaccinated", "wait_minutes.mean", "paper_records", "backlog_at_close", "turned_away")


@dataclass(frozen=True)
class Outcome:
    """One finished run: the scenario it ran, its replications and its ``summary.json`` document."""

    scenario: Scenario
    results: Sequence[ReplicationResult]
    doc: dict[str, Any]

    @property
    def seed(self) -> int:
        return int(self.doc["seed"])


def scenario_of(what: WhatIf) -> tuple[Path, Scenario]:
    """The scenario file the what-if names, and the scenario with its changes applied."""
    path = resolve_scenario(what.scenario)
    written = load_scenario(path)
    if not written.sites:
        raise SimulationError(f"{path}: the scenario has no `sites` (nor `sites_csv`); nothing to simulate")
    return path, apply(written, what)


class Runs:
    """Runs what-ifs one at a time (the machine is the planner's laptop) and keeps the last few."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[Any, ...], Outcome] = OrderedDict()

    def _key(self, what: WhatIf) -> tuple[Any, ...]:
        path = resolve_scenario(what.scenario)
        return (str(path), path.stat().st_mtime_ns, what.values)

    def kept(self, what: WhatIf) -> Outcome | None:
        return self._kept.get(self._key(what))

    def run(self, what: WhatIf, on_done: Callable[[int], None] | None = None) -> Outcome:
        """The what-if's outcome, simulated now or taken from the kept runs."""
        key = self._key(what)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
            _, scenario = scenario_of(what)
            results = run_replications(
                scenario, scenario.replications, scenario.seed, None, self.workers, on_done=on_done
            )
            doc = summary(scenario, results, scenario.seed, per_site=False).to_json()  # sites: report only
            outcome = Outcome(scenario, results, doc)
            self._kept[key] = outcome
            while len(self._kept) > KEEP:
                self._kept.popitem(last=False)
            return outcome


@dataclass(frozen=True)
class Change:
    """What-if minus as written for one policy and metric: mean and 95% interval, paired."""

    policy: str
    metric: str
    mean: float
    lo: float
    hi: float


def changes(what_if: Outcome, written: Outcome) -> list[Change]:
    """Per policy both runs share, the paired change of the main metrics (what-if minus written)."""
    checkpoints = [f"vaccinated_by.{format_clock(c)}" for c in what_if.scenario.checkpoints]
    common = [p for p in what_if.doc["policies"] if p in written.doc["policies"]]
    out = []
    pairs = list(zip(what_if.results, written.results, strict=False))
    for policy in common:
        for metric in (CHANGE_METRICS[0], *checkpoints, *CHANGE_METRICS[1:]):
            diffs = [
                w.policies[policy].total.get(metric, 0.0) - b.policies[policy].total.get(metric, 0.0) for w, b in pairs
            ]
            iv = ci95(diffs)
            out.append(Change(policy, metric, iv.mean, iv.lo, iv.hi))
    return out
