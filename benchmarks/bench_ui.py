"""Benchmark of the what-if page: seconds from a changed control to the page's results.

Run: ``.venv/bin/python benchmarks/bench_ui.py [--repeat 3] [--workers 1]``

In one process, as the page's ``/run`` does it (no browser, no HTTP): the what-if's replications,
its summary, and the rendered results (charts, tables, the change against the scenario as
written). For each scenario and replication count it prints the medians of ``--repeat`` runs of

- ``what-if``: a new what-if when the scenario as written is already kept (the usual case: the
  page ran it when it opened), and
- ``first``: the first what-if of a scenario (the as-written run too),

and the share of the time spent in the replications. Issue 16 asks for about 2 s for a district.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vaxdrill.ui.page import result_view
from vaxdrill.ui.runs import Runs
from vaxdrill.ui.whatif import WhatIf

CASES = (("district-typical-day", 5), ("district-typical-day", 10), ("district-typical-day", 20),
         ("raigad-2021-01-16", 10), ("outage-length", 10))  # fmt: skip


def _time(runs: Runs, what: WhatIf) -> tuple[float, float]:
    sims = 0.0

    def tick(_r: int) -> None:
        nonlocal sims
        sims = time.perf_counter() - start

    start = time.perf_counter()
    outcome = runs.run(what, tick)
    written = runs.run(what.without_changes(), tick)
    result_view(outcome, written)
    return time.perf_counter() - start, sims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    print(f"{'scenario':<22}{'reps':>5}{'what-if s':>11}{'first s':>9}{'in replications':>17}")
    for name, n in CASES:
        again, first, share = [], [], []
        for k in range(args.repeat):
            runs = Runs(args.workers)
            base = WhatIf(name, (("replications", str(n)), ("seed", str(100 + k))))
            total, sims = _time(runs, WhatIf(name, (*base.values, ("outage_length", "45min"))))
            first.append(total)
            total, sims = _time(runs, WhatIf(name, (*base.values, ("outage_length", "90min"))))
            again.append(total)
            share.append(sims / total)
        print(
            f"{name:<22}{n:>5}{statistics.median(again):>11.2f}{statistics.median(first):>9.2f}"
            f"{statistics.median(share):>16.0%}"
        )


if __name__ == "__main__":
    main()
