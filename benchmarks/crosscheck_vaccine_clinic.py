"""Cross-check of the station flow against a published peer model: misken/vaccine_clinic.

Run: ``.venv/bin/python benchmarks/crosscheck_vaccine_clinic.py --peer PATH [--replications 10]``

The peer is M. Isken's SimPy model of a US county vaccination clinic (github.com/misken/vaccine_clinic,
MIT licence, commit 56c78f0 of 25 May 2021, ``src/vaccine_clinic/vaccine_clinic_model4.py``); ``PATH``
is that file or a checkout holding it (it is not vendored here). Both models run the peer's base case
(``input/base.cfg``), which ``scenarios/second-dose-scheduling.yaml`` writes as a station flow:
Poisson arrivals at 180 an hour for 600 minutes; 4 greeters taking a temperature check normal(0.25,
0.05) min; 4 registration staff exp(1.0); 15 vaccinators normal(4, 0.5); half the vaccinated go to
one of 4 schedulers normal(1, 0.1); observation 15 min + exp(1.0). Each model runs ``--replications``
days from its own seeds; the script prints, per station, the mean wait in queue (minutes) of each
with its 95% interval over replications, and whether each mean lies inside the other's interval.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulation.experiment import ci95, run_replications
from vaxdrill.core.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
STATIONS = ("temperature_check", "registration", "vaccination", "scheduling")


def load_peer(path: Path) -> ModuleType:
    if path.is_dir():
        path = path / "src" / "vaccine_clinic" / "vaccine_clinic_model4.py"
    spec = importlib.util.spec_from_file_location("vaccine_clinic_model4", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--peer {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peer_day(peer: ModuleType, seed: int) -> dict[str, float]:
    """One day of the peer's base case; mean wait in each queue (minutes)."""
    import simpy

    env = simpy.Environment()
    rg = np.random.default_rng(seed)
    clinic = peer.VaccineClinic(env, 4, 4, 15, 4, 60.0 / 180.0, 0.5, 0.25, 0.05, 1.0, 4.0, 0.5, 1.0, 0.1, 15.0, 1.0, rg)
    env.process(peer.run_clinic(env, clinic, stoptime=600.0, quiet=True))
    with contextlib.redirect_stdout(io.StringIO()):  # the peer prints a line per day
        env.run()
    rows = clinic.timestamps_list
    waits = {
        "temperature_check": [r["got_greeter_ts"] - r["arrival_ts"] for r in rows],
        "registration": [r["got_reg_ts"] - r["release_greeter_ts"] for r in rows],
        "vaccination": [r["got_vaccinator_ts"] - r["release_reg_ts"] for r in rows],
        "scheduling": [
            r["got_scheduler_ts"] - r["release_vaccinator_ts"] for r in rows if not _missing(r["got_scheduler_ts"])
        ],
    }
    return {k: float(np.mean(v)) for k, v in waits.items()}


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == "<NA>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", type=Path, required=True, help="vaccine_clinic_model4.py or a checkout")
    parser.add_argument("--replications", type=int, default=10)
    args = parser.parse_args()
    peer = load_peer(args.peer)
    n = args.replications
    theirs = [peer_day(peer, 4470 + r) for r in range(n)]
    scenario = load_scenario(ROOT / "scenarios" / "second-dose-scheduling.yaml")
    ours = [r.policies["wait"].total for r in run_replications(scenario, n, scenario.seed)]
    print(f"misken/vaccine_clinic base case against scenarios/second-dose-scheduling.yaml, {n} days each")
    print(f"{'station':18} {'vaxdrill wait (min)':>24} {'peer wait (min)':>24}  each mean in the other's interval")
    agree = True
    for st in STATIONS:
        a = ci95([o[f"wait_minutes.{st}.mean"] for o in ours])
        b = ci95([t[st] for t in theirs])
        inside = a.lo <= b.mean <= a.hi and b.lo <= a.mean <= b.hi
        agree &= inside
        print(
            f"{st:18} {a.mean:8.3f} [{a.lo:6.3f}, {a.hi:6.3f}] {b.mean:8.3f} [{b.lo:6.3f}, {b.hi:6.3f}]  "
            f"{'yes' if inside else 'NO'}"
        )
    util = ci95([o["utilisation.vaccination"] for o in ours])
    print(
        f"vaxdrill vaccinator utilisation {util.mean:.3f} [{util.lo:.3f}, {util.hi:.3f}] (0.8 while arrivals last; "
        "the span also holds the empty start and the emptying after close)"
    )
    print("agreement: " + ("every station" if agree else "NOT every station"))


if __name__ == "__main__":
    main()
