"""`vaxdrill capacity` on every shipped scenario: each must find a knee above its first step.

Runs the capacity search as a user would (its own reference server, the scenario's `load.steps`,
no fault plan) on each `scenarios/*.yaml` that has sites, and prints the knee beside the first
step's rate. Exit 1 if a scenario's knee is not above its first step. Several minutes each.

    .venv/bin/python benchmarks/bench_capacity_shipped.py [--json FILE] [SCENARIO ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def knee(scenario: Path, folder: Path) -> dict[str, object]:
    out = folder / scenario.stem
    done = subprocess.run(
        [sys.executable, "-m", "vaxdrill", "capacity", str(scenario), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if not (out / "capacity.json").exists():
        return {"scenario": scenario.name, "exit": done.returncode, "error": done.stderr[-400:]}
    cap = json.loads((out / "capacity.json").read_text())
    first = cap["steps"][0]["rate"]
    best = cap["max_sustainable_rate"]
    return {
        "scenario": scenario.name, "exit": done.returncode, "first_step": first, "knee": best,
        "first_breach": cap["first_breach_rate"], "above_first_step": best is not None and best > first,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    chosen = args.scenarios or sorted((ROOT / "scenarios").glob("*.yaml"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="vaxdrill-capacity-") as tmp:
        for scenario in chosen:
            row = knee(scenario, Path(tmp))
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0 if all(row.get("above_first_step") for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
