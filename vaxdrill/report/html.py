"""Self-contained HTML reports rendered from Jinja2 templates: one file, plots embedded, nothing fetched.

Every report extends ``templates/base.html.j2``, which inlines the one stylesheet
(``templates/report.css``) and uses the shared parts of ``templates/_parts.html.j2`` (verdict box,
tables of means with 95% intervals, figures, key-value tables, notes). Autoescaping is on, so a
scenario or policy name is shown as text, never run as markup. A planner can open the page offline
and forward it by e-mail.

Figures that tests and scripts may read carry ``data-metric`` (the dotted key in the run's
``summary.json``), ``data-value`` (the number at full precision) and the row's key, such as
``data-policy``.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from simulation.experiment import format_interval

TEMPLATES = Path(__file__).resolve().parent / "templates"


def png_data_uri(png: bytes | Path) -> str:
    data = png.read_bytes() if isinstance(png, Path) else png
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def stylesheet() -> str:
    """The one stylesheet every report inlines."""
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # Markup: the file is ours and must reach the <style> element unescaped.
    env.globals["stylesheet"] = Markup(stylesheet())
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def write(path: Path, template: str, **context: Any) -> Path:
    path.write_text(render(template, **context), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Figure:
    """A PNG embedded in the page, with its caption."""

    uri: str
    caption: str


def figure(path: Path, caption: str) -> Figure | None:
    """The plot at ``path`` as an embedded figure, or None when the run did not draw it."""
    return Figure(png_data_uri(path), caption) if path.is_file() else None


@dataclass(frozen=True)
class Value:
    """A table cell with ``data-*`` attributes, so the figure can be read back from the page."""

    text: str
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricCell:
    """A mean and its 95% interval, as printed, the mean at full precision, and the cell's keys."""

    metric: str
    mean: str
    interval: str
    value: float | None
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricRow:
    """``lead`` cells name the row."""

    lead: Sequence[str]
    cells: Sequence[MetricCell]


@dataclass(frozen=True)
class MetricTable:
    header: Sequence[str]
    rows: Sequence[MetricRow]


def lookup(node: Any, dotted: str) -> Any:
    """``node["a"]["b"]`` for ``"a.b"``; None where a part is missing."""
    cur: Any = node
    for part in dotted.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def metric_cell(node: Any, metric: str, share: bool = False, attrs: Mapping[str, str] | None = None) -> MetricCell:
    """The figure ``metric`` of a summary node (``{"mean", "ci95"}``) as a table cell."""
    stat = lookup(node, metric)
    if not isinstance(stat, dict) or "mean" not in stat:
        return MetricCell(metric, "-", "", None, attrs or {})
    # Counts, times and shares cannot be negative: their intervals stop at 0. A pair's difference can.
    floor = None if attrs and "data-pair" in attrs else 0.0
    mean, _, interval = format_interval(stat, share, floor).partition(" ")
    return MetricCell(metric, mean, interval, float(stat["mean"]), attrs or {})


Subject = tuple[Sequence[str], Mapping[str, str], Any]
"""A policy, a pair or a site: its name cells, its ``data-*`` keys and its summary node."""


def metric_table(
    lead_header: Sequence[str],
    metrics: Sequence[tuple[str, str]],
    subjects: Sequence[Subject],
    share: Sequence[str] = ("attainment",),
) -> MetricTable:
    """One row per subject, one column per metric (key, label)."""
    return MetricTable(
        header=[*lead_header, *(label for _, label in metrics)],
        rows=[
            MetricRow(lead, [metric_cell(node, key, key in share, attrs) for key, _ in metrics])
            for lead, attrs, node in subjects
        ],
    )


def metric_columns(
    corner: str,
    metrics: Sequence[tuple[str, str]],
    subjects: Sequence[Subject],
    share: Sequence[str] = ("attainment",),
) -> MetricTable:
    """One row per metric (key, label), one column per subject: a few policies side by side."""
    return MetricTable(
        header=[corner, *(" ".join(lead) for lead, _, _ in subjects)],
        rows=[
            MetricRow([label], [metric_cell(node, key, key in share, attrs) for _, attrs, node in subjects])
            for key, label in metrics
        ],
    )
