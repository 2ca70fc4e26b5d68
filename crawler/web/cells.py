"""How the browsing pages show a cell: pure functions, no Datasette (see plugin.py)."""

from __future__ import annotations

import json
import re
from html import escape

from crawler.dates import BEIJING, from_iso

# Every time column of the store holds UTC ISO-8601 to the second, ending in Z (dates.to_iso).
UTC_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# The columns whose text is a page on another site: shown as a link to the original article.
LINKED_TITLE_COLUMNS = ("title", "atom_title")


def beijing_time(value: object) -> str | None:
    """A stored UTC time as people read it here: '2026-11-19 14:32' (UTC+8), else None."""
    if not isinstance(value, str) or not UTC_ISO_RE.match(value):
        return None
    return f"{from_iso(value).astimezone(BEIJING):%Y-%m-%d %H:%M}"


def time_html(value: object) -> str | None:
    """The cell of a UTC time: Beijing time, with the stored UTC value as its tooltip."""
    local = beijing_time(value)
    if local is None:
        return None
    return f'<time datetime="{escape(str(value))}" title="{escape(str(value))} UTC">{local}</time>'


def title_html(title: object, url: object) -> str | None:
    """A title that opens the original article, or None when the row has no web address."""
    if not isinstance(title, str) or not isinstance(url, str):
        return None
    if not url.startswith(("http://", "https://")):
        return None
    return f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(title)}</a>'


def sightings_html(value: object) -> str | None:
    """The JSON list of sightings (latest_coverage) as links: 'cnbeta (distance 7)'."""
    if not isinstance(value, str) or not value.startswith("["):
        return None
    try:
        sightings = json.loads(value)
    except json.JSONDecodeError:
        return None
    if not sightings:
        return "—"
    items = [
        f"<li>{escape(str(s['source']))}: {title_html(s['title'], s['url']) or escape(s['url'])}"
        f" (distance {s['distance']})</li>"
        for s in sightings
        if isinstance(s, dict) and {"source", "title", "url", "distance"} <= s.keys()
    ]
    return f"<ul>{''.join(items)}</ul>"


def story_link_html(count: object, article_id: object) -> str | None:
    """The number of sightings, linking to the story_sightings query for the article."""
    if not isinstance(count, int) or not isinstance(article_id, int):
        return None
    return f'<a href="story_sightings?story={article_id}">{count}</a>'
