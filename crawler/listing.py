"""Generic reading of listing pages and JSON list endpoints, for sites without a module of their own."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from crawler.dates import from_timestamp, parse_datetime
from crawler.model import Document, Entry
from crawler.urls import URLError

# A link looks like an article when its path carries a long number or ends in a page suffix.
ARTICLE_PATH_RE = re.compile(r"\d{4,}|\.s?html?$")
URL_KEYS = ("url", "link", "href", "share_url")
TITLE_KEYS = ("title", "name", "headline")
TIME_KEYS = ("published_at", "published", "pubDate", "publish_time", "date", "time", "ctime")
AUTHOR_KEYS = ("author", "author_name", "nickname")


def parse_generic_list(document: Document, *, canonical_url: Callable[[str], str]) -> list[Entry]:
    """Entries of a JSON list (objects with a URL and a title) or of an HTML listing page."""
    stripped = document.text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if data is not None:
            return dedupe_entries(_entries_from_json(data, document.url, canonical_url))
    return dedupe_entries(_entries_from_html(document, canonical_url))


def dedupe_entries(entries: Iterable[Entry]) -> list[Entry]:
    """One entry per URL in first-seen order, preferring one with a title (a list often links
    the picture, without text, before the headline)."""
    kept: dict[str, Entry] = {}
    for entry in entries:
        if entry.url not in kept or (entry.title and not kept[entry.url].title):
            kept[entry.url] = entry
    return list(kept.values())


def resolve_link(base_url: str, link: str, canonical_url: Callable[[str], str]) -> str | None:
    """A list's link, maybe relative, as a canonical URL; None when it is not a page link."""
    link = link.strip()
    if not link or link.startswith(("javascript:", "#", "mailto:")):
        return None
    try:
        return canonical_url(urljoin(base_url, link))
    except URLError:
        return None


def _entries_from_html(document: Document, canonical_url: Callable[[str], str]) -> Iterator[Entry]:
    host = urlsplit(document.url).netloc
    own = resolve_link(document.url, document.url, canonical_url)
    for anchor in Selector(text=document.text).css("a[href]"):
        url = resolve_link(document.url, anchor.attrib["href"], canonical_url)
        if url is None or url == own or urlsplit(url).netloc != host:
            continue
        if not ARTICLE_PATH_RE.search(urlsplit(url).path):
            continue
        title = " ".join("".join(anchor.css("::text").getall()).split())
        yield Entry(url=url, title=title or anchor.attrib.get("title", ""))


def _entries_from_json(
    data: Any, base_url: str, canonical_url: Callable[[str], str]
) -> Iterator[Entry]:
    for record in _iter_records(data):
        url = resolve_link(base_url, _first(record, URL_KEYS), canonical_url)
        if url is None:
            continue
        yield Entry(
            url=url,
            title=_first(record, TITLE_KEYS),
            author=_first(record, AUTHOR_KEYS),
            published=_record_time(record),
        )


def _iter_records(data: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object, depth first, that names both a link and a title."""
    if isinstance(data, dict):
        if _first(data, URL_KEYS) and _first(data, TITLE_KEYS):
            yield data
            return
        for value in data.values():
            yield from _iter_records(value)
    elif isinstance(data, list):
        for value in data:
            yield from _iter_records(value)


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _record_time(record: dict[str, Any]) -> datetime | None:
    for key in TIME_KEYS:
        value = record.get(key)
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return from_timestamp(value)
        if isinstance(value, str) and (parsed := parse_datetime(value)):
            return parsed
    return None
