"""Put earlier runs side by side: "did the new build move the knee?", "what did policy X change?".

Every run folder holds a ``summary.json`` whose ``schema`` names its kind (``vaxdrill.simulation/1``,
``vaxdrill.loadtest/1``, ``vaxdrill.capacity/1``, ``vaxdrill.cli.drill/1``), read through its model
(:mod:`vaxdrill.core.documents`); a document of another version is refused in one line. Runs of one kind are
flattened into figures keyed by a dotted path (``policies.wait.vaccinated``) and compared to the
first run; a figure with a 95% interval keeps it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaxdrill.core.documents import read_any
from vaxdrill.core.errors import ResultsError


@dataclass(frozen=True)
class Figure:
    """One number from a summary, with its 95% interval where the summary gives one."""

    value: float
    ci95: tuple[float, float] | None = None


@dataclass
class RunSummary:
    """A run folder's summary, flattened to figures."""

    path: Path
    kind: str
    label: str
    figures: dict[str, Figure] = field(default_factory=dict)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def flatten(data: Any, prefix: str = "", *, skip: frozenset[str] = frozenset()) -> dict[str, Figure]:
    """Dotted path -> figure for every number in ``data``; ``{"mean", "ci95"}`` pairs stay one figure."""
    out: dict[str, Figure] = {}
    if isinstance(data, dict):
        mean, ci = data.get("mean"), data.get("ci95")
        if isinstance(mean, (int, float)) and _is_number(mean) and isinstance(ci, list) and len(ci) == 2:
            if all(_is_number(c) for c in ci):
                out[prefix] = Figure(float(mean), (float(ci[0]), float(ci[1])))
            return out
        for key, value in data.items():
            if key in skip:
                continue
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key), skip=skip))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            name = item.get("name") if isinstance(item, dict) else None
            part = str(name) if name else str(i)
            out.update(flatten(item, f"{prefix}[{part}]", skip=skip))
    elif isinstance(data, bool):
        out[prefix] = Figure(1.0 if data else 0.0)
    elif _is_number(data):
        out[prefix] = Figure(float(data))
    return out


# Parts of a summary that identify the run rather than measure it, or that would swamp the table.
_SKIP = frozenset({"schema", "seed", "replications", "sites", "series", "time_series", "history", "steps"})
# A run's figures: summary.json, or capacity.json for `vaxdrill capacity`.
SUMMARY_FILES = ("summary.json", "capacity.json")


def read_run(path: Path, *, include_sites: bool = False) -> RunSummary:
    """Read the run's ``summary.json`` (or a capacity run's ``capacity.json``) through its model."""
    if not path.is_dir():
        raise ResultsError(f"{path}: not a results folder")
    summary_path = next((path / n for n in SUMMARY_FILES if (path / n).is_file()), None)
    if summary_path is None:
        raise ResultsError(f"{path}: no summary.json nor capacity.json; is this a finished vaxdrill run?")
    doc = read_any(summary_path)
    skip = _SKIP - {"sites"} if include_sites else _SKIP
    return RunSummary(path=path, kind=doc.SCHEMA, label=path.name, figures=flatten(doc.to_json(), skip=skip))


# A single figure (no interval) that moved by at most this share of its size is taken as unchanged.
TOLERANCE = 0.05


@dataclass(frozen=True)
class Row:
    """A figure across runs, and each run's change against the first."""

    metric: str
    figures: tuple[Figure | None, ...]

    def change(self, index: int) -> float | None:
        first, other = self.figures[0], self.figures[index]
        if first is None or other is None:
            return None
        return other.value - first.value

    def within_noise(self, index: int) -> bool:
        """Whether run ``index`` differs from the first only within the noise: overlapping 95%
        intervals, or for single figures within :data:`TOLERANCE` of the first (relative).
        A figure present in one run only is a change, never noise."""
        first, other = self.figures[0], self.figures[index]
        if first is None or other is None:
            return first is None and other is None
        if first.ci95 is not None and other.ci95 is not None:
            return first.ci95[0] <= other.ci95[1] and other.ci95[0] <= first.ci95[1]
        scale = max(abs(first.value), abs(other.value))
        return abs(other.value - first.value) <= TOLERANCE * scale

    def noise_only(self) -> bool:
        """Every run's difference from the first is inside the noise."""
        return all(self.within_noise(i) for i in range(1, len(self.figures)))


def compare(runs: list[RunSummary]) -> list[Row]:
    """Rows for every figure any run has, in first-seen order; runs must be of one kind."""
    if len(runs) < 2:
        raise ResultsError("compare needs at least two run folders")
    kinds = {run.kind for run in runs}
    if len(kinds) > 1:
        listing = ", ".join(f"{run.label}: {run.kind}" for run in runs)
        raise ResultsError(f"cannot compare runs of different kinds ({listing})")
    metrics: dict[str, None] = {}
    for run in runs:
        metrics.update(dict.fromkeys(run.figures))
    return [Row(metric, tuple(run.figures.get(metric) for run in runs)) for metric in metrics]


def to_json(runs: list[RunSummary], rows: list[Row]) -> dict[str, Any]:
    return {
        "schema": "vaxdrill.report.compare/1",
        "kind": runs[0].kind,
        "runs": [str(run.path) for run in runs],
        "metrics": {
            row.metric: [
                None if fig is None else {"value": fig.value, **({"ci95": list(fig.ci95)} if fig.ci95 else {})}
                for fig in row.figures
            ]
            for row in rows
        },
    }
