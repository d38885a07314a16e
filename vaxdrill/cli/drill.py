"""The launch-day drill: simulation, load test with faults, calibration, simulation again, one report.

Each phase runs as its own ``vaxdrill`` process writing into a sub-folder of the drill's results
folder, exactly as an engineer or planner would run it by hand; that keeps Locust (and its gevent
patching) out of this process and makes every phase re-runnable on its own:

=====================  ===========================================================================
``simulation/``        ``vaxdrill simulate``: the scenario's policies on the assumed server
``loadtest/``          ``vaxdrill loadtest``: reference server seeded from the sites, compressed
                       launch day, the fault plan, the integrity check
``server_profile.json`` ``vaxdrill profile``: the server's measured latency and failures by load
``simulation-measured/`` ``vaxdrill simulate`` of the same scenario on the measured server
``report.html``        both audiences' report (:mod:`vaxdrill.report.drill`)
=====================  ===========================================================================
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaxdrill.core.documents import Document, read_document
from vaxdrill.core.documents.base import D
from vaxdrill.core.errors import ExitCode, PhaseFailed
from vaxdrill.core.scenario.dump import dump_scenario
from vaxdrill.core.scenario.model import Scenario

# Exit codes of `vaxdrill loadtest` that are findings of the drill, not failures to run it.
FINDINGS: set[int] = {ExitCode.OK, ExitCode.SLO_FAILED, ExitCode.INTEGRITY_FAILED, ExitCode.ABORTED}


@dataclass
class Phase:
    """One step of the drill and how it went."""

    name: str
    folder: Path
    argv: list[str]
    exit_code: int | None = None
    seconds: float = 0.0


def measured_scenario(scenario: Scenario, profile: Path, target: Path) -> Path:
    """Write the resolved scenario with ``server.profile`` pointing at the measured profile."""
    server = scenario.server.model_copy(update={"profile": str(profile.resolve())})
    measured = scenario.model_copy(update={"server": server})
    return dump_scenario(measured, target, f"{scenario.name} on the server measured by `vaxdrill drill` ({profile})")


def run_phase(phase: Phase, log: Path, on_line: Callable[[str], None] | None = None) -> int:
    """Run one phase as its own process, its output to ``log``; return its exit code."""
    started = time.monotonic()
    env = {**os.environ, "COLUMNS": "160", "PYTHONUNBUFFERED": "1"}
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen(
            phase.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            sink.write(line)
            if on_line is not None:
                on_line(line.rstrip("\n"))
        code = proc.wait()
    phase.exit_code = code
    phase.seconds = time.monotonic() - started
    return code


def check(phase: Phase, code: int, log: Path, allowed: set[int]) -> None:
    if code not in allowed:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-12:])
        raise PhaseFailed(f"drill phase `{phase.name}` failed with exit code {code}; see {log}\n{tail}")


def read_phase_document(path: Path, model: type[D]) -> D | None:
    """A phase's document through its model; ``None`` when the phase wrote none (one-line error if invalid)."""
    if not path.exists():
        return None
    return read_document(path, model)


def plain(doc: Document | None) -> dict[str, Any] | None:
    """The document as the report renderers take it (plain JSON values)."""
    return None if doc is None else doc.to_json()
