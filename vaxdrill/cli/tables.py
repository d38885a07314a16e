"""Tables that stay readable in 80 columns and in a pipe: a table when it fits, else stacked.

Rich cuts or folds cells of a table wider than the console (``as_ha…``: two policies look alike).
:func:`fit_or_stack` measures the table first; if it does not fit, each row becomes a block headed
by its first cell with one ``label  value`` line per column, so no name is ever cut.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text


def natural_width(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """Width of the boxed table with every cell on one line (rich: 3 per column + 1)."""
    widths = [max([len(line) for line in h.split("\n")] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    return sum(widths) + 3 * len(widths) + 1


def fit_or_stack(
    console: Console, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], right: bool = True
) -> RenderableType:
    """A rich table if it fits ``console.width``, else one block per row (first cell as its heading)."""
    if natural_width(headers, rows) <= console.width:
        table = Table(title=title, title_justify="left")
        for i, head in enumerate(headers):
            table.add_column(head, justify="right" if right and i else "left", no_wrap=True)
        for row in rows:
            table.add_row(*row)
        return table
    label_width = max(len(h.replace("\n", " ")) for h in headers[1:])
    parts: list[RenderableType] = [Text(title, style="italic")]
    for row in rows:
        parts.append(Text(row[0], style="bold"))
        for head, cell in zip(headers[1:], row[1:], strict=True):
            parts.append(Text(f"  {head.replace(chr(10), ' '):<{label_width}}  {cell}"))
    return Group(*parts)
