"""Benchmark of ``vaxdrill sweep``'s backends: one local worker, two, and a Dask cluster of two.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--points 20] [--replications 10]``

The sweep is the district scenario (16 sites, stochastic server and link failures) with
``policies.offline_after_15min.after`` at 20 values from 5 min to 100 min, policies ``wait`` and
``offline_after_15min``, 10 replications per point: 200 tasks. It runs

1. on one local worker process (in this process),
2. on two local worker processes (the fork-server pool ``vaxdrill sweep --workers 2`` uses), and
3. alternating with 2 (``--rounds`` times), on a dask.distributed cluster of a scheduler and two
   single-threaded worker processes on 127.0.0.1 (started before the clock starts, as a cluster is
   long-lived; the scatter of the variants and every task's round trip are timed),

checks that the three give the same ``points.csv`` bytes, and prints the wall times, the speed-up
of two workers over one and the extra cost of Dask over local processes, with the machine's load
average before and after (the machine may be shared: the ratios follow the cores it really gives).
Targets (issue 14): two workers >= 1.8x one; Dask <= 15% more than local processes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulation.explore.backends import Backend, DaskBackend, LocalBackend
from simulation.explore.space import parse_parameter
from simulation.explore.sweep import run_sweep, write_points_csv
from vaxdrill.core.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "district-typical-day.yaml"
POLICIES = ("wait", "offline_after_15min")


def timed(backend: Backend, points: int, replications: int, folder: Path, label: str) -> tuple[float, bytes]:
    scenario = load_scenario(SCENARIO)
    param = parse_parameter(scenario, f"policies.offline_after_15min.after=5min..{5 * points}min:5min")
    start = time.perf_counter()
    sweep = run_sweep(scenario, [param], "grid", None, replications, scenario.seed, POLICIES, backend)
    wall = time.perf_counter() - start
    path = write_points_csv(folder / f"{label}.csv", sweep)
    print(f"  {label:<10} {wall:7.1f} s  ({len(sweep.results)} tasks)", flush=True)
    return wall, path.read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="Alternating local x2 / Dask x2 runs (medians).")
    args = parser.parse_args()
    from distributed import LocalCluster

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} core(s)")
    print(f"sweep: {args.points} points x {args.replications} replications x {len(POLICIES)} policies")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        one, csv_one = timed(LocalBackend(1), args.points, args.replications, folder, "local x1")
        twos, dasks = [], []
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            dask = DaskBackend(cluster.scheduler_address)
            try:
                # Alternating, so that the shared machine's load hits both alike.
                for _ in range(args.rounds):
                    wall, csv_two = timed(LocalBackend(2), args.points, args.replications, folder, "local x2")
                    twos.append(wall)
                    wall, csv_dask = timed(dask, args.points, args.replications, folder, "dask x2")
                    dasks.append(wall)
            finally:
                dask.close()
        two, on_dask = statistics.median(twos), statistics.median(dasks)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    same = csv_one == csv_two == csv_dask
    speedup = one / two
    overhead = on_dask / two - 1
    print(f"points.csv identical on all three: {same}")
    print(f"two local workers against one: {speedup:.2f}x (median of local x2; target >= 1.8x)")
    print(f"Dask against local processes (2 workers each, medians): {overhead:+.1%} (target <= +15%)")
    pairs = ", ".join(f"{d / t - 1:+.0%}" for t, d in zip(twos, dasks, strict=True))
    print(f"  per round: {pairs}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
