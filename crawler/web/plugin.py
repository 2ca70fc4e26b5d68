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
from crawler.search import box_query, parse_terms, register_match_function, snippet_around
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


@hookimpl(trylast=True)  # after Datasette's own functions: ours replaces its escape_fts()
def prepare_connection(conn: sqlite3.Connection, database: str) -> None:
    """`followup_health()` and `followup_match()` in SQL, and the table search box's query."""
    if database == DATABASE:
        register_functions(conn)


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the canned queries call, on a connection to a followup store."""
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    conn.create_function("followup_health", 0, lambda: health_json(path))
    register_match_function(conn)  # the canned search query
    conn.create_function("followup_snippet", 2, search_snippet, deterministic=True)
    # The articles table's search box sends `MATCH escape_fts(:search)` to articles_search,
    # which holds character pairs: the text becomes the query finding it (crawler.search).
    conn.create_function("escape_fts", 1, box_query, deterministic=True)


def search_snippet(text: str | None, query: str | None) -> str:
    """followup_snippet(text, q): about 24 characters around the first hit, terms in 【】."""
    return snippet_around(text or "", parse_terms(query or ""), mark=SNIPPET_MARK, width=24)


SNIPPET_MARK = ("【", "】")


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
