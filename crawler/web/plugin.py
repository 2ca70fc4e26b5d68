"""The Datasette plugin `followup serve` registers: Beijing times, titles linking out, sightings.

It only changes HTML cells of the `followup` database; JSON keeps the stored values (UTC).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from datasette import hookimpl
from markupsafe import Markup

from crawler.search import BIGRAM_FUNCTION, bigram_text
from crawler.web.cells import (
    LINKED_TITLE_COLUMNS,
    sightings_html,
    story_link_html,
    time_html,
    title_html,
)

DATABASE = "followup"


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    """followup_bigrams(), for the search query (and the triggers SQLite compiles with a write)."""
    conn.create_function(BIGRAM_FUNCTION, 1, bigram_text, deterministic=True)


@hookimpl
def render_cell(row: Any, value: Any, column: str, database: str) -> Markup | None:
    """A cell of the followup database as people read it, or None for Datasette's default."""
    if database != DATABASE:
        return None
    html = _cell_html(row, value, column)
    return Markup(html) if html is not None else None


def _cell_html(row: Any, value: Any, column: str) -> str | None:
    # row is a sqlite3.Row: `in` on it tests values, so look at its column names.
    names = set(row.keys())
    if column in LINKED_TITLE_COLUMNS and "url" in names:
        return title_html(value, row["url"])
    if column == "sightings":
        return sightings_html(value)
    if column == "sighting_count" and "id" in names:
        return story_link_html(value, row["id"])
    return time_html(value)
