"""Plain-text tables for the terminal: the one renderer of crawl reports, status, query results
and notification listings. Wide (CJK) characters count two columns, so Chinese titles align."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence

CELL_WIDTH = 60  # display columns a clipped table cell is cut to
GAP = "  "


def format_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[int] = (),
    rule: bool = False,
    clip_width: int | None = None,
) -> str:
    """An aligned table, a line per row (no final newline).

    right: indexes of right-aligned columns (numbers); rule: a line of dashes under the
    headers; clip_width: cells flattened to one line and cut to this many columns.
    """
    cells = [list(headers), *(list(row) for row in rows)]
    if clip_width is not None:
        cells = [[clip(cell, clip_width) for cell in row] for row in cells]
    widths = column_widths(cells)
    lines = [format_row(row, widths, right=right) for row in cells]
    if rule:
        lines.insert(1, GAP.join("-" * width for width in widths))
    return "\n".join(lines)


def column_widths(rows: Sequence[Sequence[str]]) -> list[int]:
    """The display width of each column: its widest cell."""
    return [max(display_width(row[i]) for row in rows) for i in range(len(rows[0]))]


def format_row(cells: Sequence[str], widths: Sequence[int], *, right: Collection[int] = ()) -> str:
    """One line of a table: each cell padded to its column's width, trailing blanks dropped."""
    padded = (
        _pad(cell, width, right=i in right)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    )
    return GAP.join(padded).rstrip()


def display_width(text: str) -> int:
    """Terminal columns text takes: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def clip(text: str, width: int = CELL_WIDTH) -> str:
    """text on one line, cut with … to at most width display columns."""
    flat = " ".join(text.split())
    if display_width(flat) <= width:
        return flat
    out, used = [], 1
    for char in flat:
        used += display_width(char)
        if used > width:
            break
        out.append(char)
    return "".join(out) + "…"


def _pad(cell: str, width: int, *, right: bool) -> str:
    fill = " " * (width - display_width(cell))
    return fill + cell if right else cell + fill
