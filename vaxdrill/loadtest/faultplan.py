"""Which of the scenario's faults a run applies, and when: fitted to the run's length.

A fault that starts or ends past the run (``--duration 30s`` with an outage at 20 s lasting 15 s)
would leave the run ending inside the outage: its "after" and its recovery cannot be measured, and
an error-rate SLO fails for a reason nobody chose. Such a plan is the user's mistake (exit 2, the
fault named), unless ``--scale-faults`` rescales every fault's ``at`` and ``duration`` by one factor
so the plan keeps its shape inside the run. The capacity search applies no fault unless asked
(``--with-faults``): a knee measured through an outage is the outage's, not the server's.

The run reads its faults from a scenario file, so a changed plan is written next to the results
(``scenario-faults-fitted.yaml``, ``scenario-without-faults.yaml``) and that file is run.
"""

from __future__ import annotations

import math
from pathlib import Path

from vaxdrill.core.errors import VaxdrillError
from vaxdrill.core.scenario.dump import dump_scenario
from vaxdrill.core.scenario.loadplan import Fault
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.units import format_duration


def _describe(index: int, fault: Fault) -> str:
    return f"faults[{index}] ({fault.kind} at {format_duration(fault.at)} for {format_duration(fault.duration)})"


def misfits(faults: list[Fault], run_s: float) -> list[str]:
    """One line per fault that starts or ends past ``run_s`` seconds."""
    lines = []
    for i, fault in enumerate(faults):
        end = fault.at + fault.duration
        if fault.at >= run_s:
            lines.append(f"{_describe(i, fault)} starts after the run ends at {format_duration(run_s)}")
        elif end > run_s + 1e-9:
            lines.append(f"{_describe(i, fault)} ends at {format_duration(end)}, after the run ends at "
                         f"{format_duration(run_s)}")  # fmt: skip
    return lines


def scaled(faults: list[Fault], run_s: float, planned_s: float) -> list[Fault]:
    """Every fault's ``at`` and ``duration`` times one factor: the run's length over the planned one
    (or over the latest fault's end, if that is later), so the whole plan fits the run."""
    latest = max((f.at + f.duration for f in faults), default=0.0)
    factor = run_s / max(planned_s, latest)
    # Tenths of a second, rounded down, so a plan that ended with the run still fits it.
    return [
        f.model_copy(update={"at": _tenths(f.at * factor), "duration": max(_tenths(f.duration * factor), 0.1)})
        for f in faults
    ]


def _tenths(seconds: float) -> float:
    return math.floor(seconds * 10.0 + 1e-9) / 10.0


def check_fit(scenario: Scenario, path: Path, run_s: float, scale: bool) -> bool:
    """Whether the plan needs rescaling; raises :class:`VaxdrillError` (exit 2) if it does not fit
    and ``scale`` is false. Cheap: call it before making a results folder."""
    wrong = misfits(scenario.faults, run_s)
    if wrong and not scale:
        raise VaxdrillError(
            f"{path}: " + "; ".join(wrong) + ". Shorten the fault, lengthen --duration, or pass --scale-faults"
        )
    return bool(wrong)


def fit_faults(
    scenario: Scenario, path: Path, folder: Path, run_s: float, planned_s: float, scale: bool
) -> tuple[Path, Scenario, str | None]:
    """The scenario file to run and a note for the terminal (``None`` when nothing changed).

    Raises :class:`VaxdrillError` (exit 2) naming each fault that does not fit, unless ``scale``.
    """
    if not check_fit(scenario, path, run_s, scale):
        return path, scenario, None
    faults = scaled(scenario.faults, run_s, planned_s)
    fitted = scenario.model_copy(update={"faults": faults})
    plan = ", ".join(_describe(i, f) for i, f in enumerate(faults))
    note = f"faults scaled to the {format_duration(run_s)} run: {plan}"
    target = dump_scenario(fitted, folder / "scenario-faults-fitted.yaml", f"{scenario.name}: {note}")
    return target, fitted, note


def without_faults(scenario: Scenario, folder: Path) -> tuple[Path | None, Scenario]:
    """The scenario with no faults, written to ``folder`` (``None`` if it had none: run the original)."""
    if not scenario.faults:
        return None, scenario
    bare = scenario.model_copy(update={"faults": []})
    comment = f"{scenario.name}: its {len(scenario.faults)} fault(s) left out of the capacity search"
    return dump_scenario(bare, folder / "scenario-without-faults.yaml", comment), bare
