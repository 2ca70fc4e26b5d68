"""The Datasette plugin `followup serve` registers: Beijing times, titles linking out, sightings.

It only changes HTML cells of the `followup` database; JSON keeps the stored values (UTC).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from typing import Any

from datasette import hookimpl
from markupsafe import Markup
from sqlite_utils import Database

from crawler.dates import utcnow
from crawler.health import get_health
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
def render_cell(row: Any, value: Any, column: str, database: str) -> Markup | None:
    """A cell of the followup database as people read it, or None for Datasette's default."""
    if database != DATABASE:
        return None
    html = _cell_html(row, value, column)
    return Markup(html) if html is not None else None


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str) -> None:
    """`followup_health()` in SQL: crawler.health's codes of every source, as JSON."""
    if database == DATABASE:
        register_functions(conn)


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the canned queries call, on a connection to a followup store."""
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    conn.create_function("followup_health", 0, lambda: health_json(path))
    # The search query's two-character branch; and the bigram index's triggers, which SQLite
    # compiles for any write statement on articles (refused anyway: the file is read-only).
    conn.create_function(BIGRAM_FUNCTION, 1, bigram_text, deterministic=True)


def health_json(path: str) -> str:
    """{source: [{code, since, detail}]} as `followup status` computes it (default 6 h limit).

    Read on a connection of its own: a query must not run inside another query's function.
    """
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        health = get_health(Database(conn), now=utcnow())
    return json.dumps(
        {source: [asdict(h) for h in codes] for source, codes in health.items()},
        ensure_ascii=False,
    )


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
