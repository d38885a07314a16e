"""Benchmark of ``vaxdrill sweep``'s backends: one local worker, two, and a Dask cluster of two.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--points 20] [--replications 10] [--rounds 3]``

The sweep is the district scenario (16 sites, stochastic server and link failures) with
``policies.offline_after_15min.after`` at 20 values from 5 min to 100 min, policies ``wait`` and
``offline_after_15min``, 10 replications per point: 200 tasks. Each round runs it

- on one local worker (in this process, as ``vaxdrill sweep --workers 1``),
- on two local workers (this process and one pool process, as ``--workers 2``; the fork server is
  stopped before each such run, so every run pays its start-up as a fresh command does), and
- on a dask.distributed cluster of a scheduler and two single-threaded worker processes on
  127.0.0.1 (started once before the clock starts, as a cluster is long-lived; the scatter of the
  variants and every task's round trip are timed).

The three are interleaved, and the order rotates from round to round, so a change in the shared
machine's load falls on all three alike; each figure is the median of its rounds, and the targets
are judged on the ratio of the medians (the per-round ratios are printed beside it, with the load
average at the start of every round). The ``points.csv`` bytes of every run must be identical.
Targets (issue 14): two workers >= 1.8x one; Dask <= 15% more than local processes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from multiprocessing import forkserver
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulation.explore.backends import Backend, DaskBackend, LocalBackend
from simulation.explore.space import parse_parameter
from simulation.explore.sweep import run_sweep, write_points_csv
from vaxdrill.core.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "district-typical-day.yaml"
POLICIES = ("wait", "offline_after_15min")
SPEED_UP_TARGET = 1.8
DASK_TARGET = 0.15
LABELS = ("local x1", "local x2", "dask x2")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(backend: Backend, points: int, replications: int, path: Path) -> tuple[float, bytes]:
    """Wall time of one sweep on ``backend``, and the ``points.csv`` it writes."""
    scenario = load_scenario(SCENARIO)
    param = parse_parameter(scenario, f"policies.offline_after_15min.after=5min..{5 * points}min:5min")
    if isinstance(backend, LocalBackend) and backend.workers > 1:
        # A fresh command starts its own fork server: make every run pay that, not the first only.
        forkserver._forkserver._stop()  # type: ignore[attr-defined]
    start = time.perf_counter()
    sweep = run_sweep(scenario, [param], "grid", None, replications, scenario.seed, POLICIES, backend)
    wall = time.perf_counter() - start
    return wall, write_points_csv(path, sweep).read_bytes()


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds of the three (medians).")
    args = parser.parse_args()
    from distributed import LocalCluster

    print(f"load average before: {load()} on {os.cpu_count()} core(s)")
    print(f"sweep: {args.points} points x {args.replications} replications x {len(POLICIES)} policies, "
          f"{args.rounds} interleaved rounds")  # fmt: skip
    walls: dict[str, list[float]] = {label: [] for label in LABELS}
    csvs: set[bytes] = set()
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
    ):
        dask = DaskBackend(cluster.scheduler_address)
        backends: dict[str, Backend] = {"local x1": LocalBackend(1), "local x2": LocalBackend(2), "dask x2": dask}
        try:
            for k in range(args.rounds):
                order = LABELS[k % 3 :] + LABELS[: k % 3]
                print(f"round {k + 1} (load average {load()}):", flush=True)
                for label in order:
                    wall, csv = timed(backends[label], args.points, args.replications, Path(tmp) / "points.csv")
                    walls[label].append(wall)
                    csvs.add(csv)
                    print(f"  {label:<9} {wall:6.1f} s", flush=True)
        finally:
            dask.close()
    print(f"load average after: {load()}")

    med = {label: statistics.median(w) for label, w in walls.items()}
    print("\nfigure      " + "".join(f"round {k + 1:<4}" for k in range(args.rounds)) + "median")
    for label in LABELS:
        print(f"{label:<12}" + "".join(f"{w:6.1f} s   " for w in walls[label]) + f"{med[label]:6.1f} s")
    speedups = [one / two for one, two in zip(walls["local x1"], walls["local x2"], strict=True)]
    extras = [d / two - 1 for d, two in zip(walls["dask x2"], walls["local x2"], strict=True)]
    speedup = med["local x1"] / med["local x2"]
    extra = med["dask x2"] / med["local x2"] - 1
    same = len(csvs) == 1
    print(f"\npoints.csv identical in all {sum(map(len, walls.values()))} runs: {same}")
    print(f"two local workers against one: {speedup:.2f}x (ratio of medians; per round: "
          f"{', '.join(f'{s:.2f}x' for s in speedups)}); target >= {SPEED_UP_TARGET}x: "
          f"{verdict(speedup >= SPEED_UP_TARGET)}")  # fmt: skip
    print(f"Dask against local processes (2 workers each): {extra:+.1%} (ratio of medians; per round: "
          f"{', '.join(f'{e:+.1%}' for e in extras)}); target <= +{DASK_TARGET:.0%}: "
          f"{verdict(extra <= DASK_TARGET)}")  # fmt: skip
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
