"""Terminal tables in 80 columns and in a pipe: a table when it fits, else stacked; never a cut name."""

from __future__ import annotations

import io

from rich.console import Console

from simulation.experiment import format_interval
from vaxdrill.cli.tables import fit_or_stack

POLICIES = ["as_happened", "offline_after_30min", "offline_first", "offline_when_queue_of_40"]
HEADERS = ["policy", "vaccinated", "by 12:00", "by 13:30", "by 17:00", "wait min", "turned away", "backlog at close"]


def _render(width: int, headers: list[str]) -> str:
    rows = [[name, *("340 [207, 474]" for _ in headers[1:])] for name in POLICIES]
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False)
    console.print(fit_or_stack(console, "means and 95% intervals", headers, rows))
    return buffer.getvalue()


def test_a_wide_table_is_stacked_in_80_columns_with_every_name_whole() -> None:
    text = _render(80, HEADERS)
    assert max(len(line) for line in text.splitlines()) <= 80
    for name in POLICIES:
        assert f"\n{name}\n" in text  # whole, on its own line
    assert "…" not in text and "backlog at close  340 [207, 474]" in text


def test_a_narrow_table_stays_a_table() -> None:
    text = _render(80, HEADERS[:3])
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "┃ policy" in text or "│ as_happened" in text
    assert all(name in text for name in POLICIES) and "…" not in text


def test_intervals_on_counts_never_go_below_zero() -> None:
    node = {"mean": 10.4, "ci95": [-21.3, 42.1]}
    assert format_interval(node, floor=0.0) == "10 [0, 42]"
    assert format_interval(node) == "10 [-21, 42]"  # a difference may be negative
