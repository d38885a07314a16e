"""Self-contained HTML reports: one file, plots embedded, nothing fetched when it is opened.

A report is built from sections of headings, paragraphs, tables and images; a planner can open it
offline and forward it by e-mail.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1d2733;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #d6dde5;padding-bottom:.2em;margin-top:1.8em}
.answer{font-size:1.2em;background:#eef6ee;border-left:6px solid #2e7d32;padding:.8em 1em;margin:1em 0}
.warn{background:#fff4e5;border-left:6px solid #ef6c00;padding:.6em 1em}
.fail{color:#b71c1c;font-weight:600}.pass{color:#2e7d32;font-weight:600}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #d6dde5;padding:.3em .6em;text-align:right}th{background:#f2f5f8}
td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #e3e8ee;margin:.5em 0}
.meta{color:#5b6b7b;font-size:.9em}code{background:#f2f5f8;padding:0 .25em}
"""


def png_data_uri(png: bytes | Path) -> str:
    data = png.read_bytes() if isinstance(png, Path) else png
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


@dataclass
class Report:
    """Build a report, then :meth:`write` it."""

    title: str
    subtitle: str = ""
    _parts: list[str] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, css: str = "") -> None:
        cls = f' class="{css}"' if css else ""
        self._parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def answer(self, text: str) -> None:
        """The one sentence a reader takes away."""
        self._parts.append(f'<div class="answer">{html.escape(text)}</div>')

    def warning(self, text: str) -> None:
        self._parts.append(f'<div class="warn">{html.escape(text)}</div>')

    def table(self, header: Sequence[str], rows: Iterable[Sequence[object]], caption: str = "") -> None:
        out = ["<table>"]
        if caption:
            out.append(f"<caption>{html.escape(caption)}</caption>")
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
        for row in rows:
            cells = []
            for cell in row:
                text = html.escape(str(cell))
                css = ' class="pass"' if cell == "pass" else (' class="fail"' if cell == "FAIL" else "")
                cells.append(f"<td{css}>{text}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
        self._parts.append("".join(out))

    def image(self, png: bytes | Path, alt: str) -> None:
        self._parts.append(f'<img src="{png_data_uri(png)}" alt="{html.escape(alt)}">')

    def render(self) -> str:
        sub = f'<p class="meta">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        body = "\n".join(self._parts)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head>\n"
            f"<body><h1>{html.escape(self.title)}</h1>{sub}\n{body}\n</body></html>\n"
        )

    def write(self, path: Path) -> Path:
        path.write_text(self.render(), encoding="utf-8")
        return path
