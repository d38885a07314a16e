"""Inline SVG charts for the what-if page: drawn in a few milliseconds, crisp, nothing to fetch.

(The report's PNG plots take seconds with matplotlib; the page must answer in about two.) A chart
is lines with optional 95% bands over clock time, shaded windows for outages and dotted lines at
the checkpoints. Every line carries ``data-policy`` and every band ``data-band``, so a script can
find them; the numbers themselves are in the tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup, escape

WIDTH, HEIGHT = 860, 300
LEFT, RIGHT, TOP, BOTTOM = 60, 150, 28, 34
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


@dataclass(frozen=True)
class Line:
    """One policy's mean over the x values, with its band (``lo``, ``hi``) when it has one."""

    name: str
    mean: Sequence[float]
    lo: Sequence[float] | None = None
    hi: Sequence[float] | None = None


@dataclass(frozen=True)
class Shade:
    start: float
    end: float
    label: str
    colour: str = "#d62728"


def _nice_top(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if value <= m * step:
            return float(m * step)
    return float(10 * step)


def chart(
    title: str,
    x: Sequence[float],
    lines: Sequence[Line],
    y_label: str,
    x_ticks: Sequence[tuple[float, str]],
    shades: Sequence[Shade] = (),
    marks: Sequence[tuple[float, str]] = (),
    metric: str = "",
) -> Markup:
    """An SVG line chart; x values and ticks in the chart's own unit (hours, minutes)."""
    xs = np.asarray(x, dtype=float)
    x0, x1 = float(xs[0]), float(xs[-1])
    top = _nice_top(max([float(np.max(line.hi if line.hi is not None else line.mean)) for line in lines] + [0.0]))
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(v: float) -> float:
        return LEFT + (v - x0) / (x1 - x0 or 1.0) * w

    def py(v: float) -> float:
        return TOP + h - max(min(v, top), 0.0) / top * h

    def points(ys: Sequence[float]) -> str:
        return " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xs, ys, strict=True))

    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" data-chart="{escape(metric)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<text x="{LEFT}" y="16" class="title">{escape(title)}</text>',
    ]
    for shade in shades:
        a, b = max(shade.start, x0), min(shade.end, x1)
        if b > a:
            out.append(
                f'<rect class="shade" data-shade="{escape(shade.label)}" x="{px(a):.1f}" y="{TOP}" '
                f'width="{px(b) - px(a):.1f}" height="{h}" fill="{shade.colour}" fill-opacity="0.12">'
                f"<title>{escape(shade.label)}</title></rect>"
            )
    for i in range(5):
        v = top * i / 4
        out.append(f'<line x1="{LEFT}" x2="{LEFT + w}" y1="{py(v):.1f}" y2="{py(v):.1f}" class="grid"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py(v) + 4:.1f}" class="tick" text-anchor="end">{v:g}</text>')
    for v, label in x_ticks:
        if x0 <= v <= x1:
            out.append(f'<text x="{px(v):.1f}" y="{TOP + h + 16}" class="tick" text-anchor="middle">{label}</text>')
    for v, label in marks:
        if x0 <= v <= x1:
            out.append(
                f'<line x1="{px(v):.1f}" x2="{px(v):.1f}" y1="{TOP}" y2="{TOP + h}" class="mark"/>'
                f'<text x="{px(v) + 3:.1f}" y="{TOP + 10}" class="tick">{escape(label)}</text>'
            )
    for k, line in enumerate(lines):
        colour = COLOURS[k % len(COLOURS)]
        name = escape(line.name)
        if line.lo is not None and line.hi is not None:
            ring = points(line.hi) + " " + " ".join(reversed(points(line.lo).split(" ")))
            out.append(f'<polygon data-band="{name}" points="{ring}" fill="{colour}" fill-opacity="0.18"/>')
        out.append(
            f'<polyline data-policy="{name}" points="{points(line.mean)}" fill="none" stroke="{colour}" '
            f'stroke-width="2"/>'
        )
        ly = TOP + 14 + 16 * k
        out.append(
            f'<line x1="{LEFT + w + 10}" x2="{LEFT + w + 28}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
            f'stroke-width="3"/><text x="{LEFT + w + 32}" y="{ly}" class="legend">{name}</text>'
        )
    out.append(
        f'<text x="14" y="{TOP + h / 2:.0f}" class="tick" transform="rotate(-90 14 {TOP + h / 2:.0f})" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{w}" height="{h}" class="frame"/></svg>')
    return Markup("".join(out))
