"""RSS and Atom feeds, parsed by feedparser from the bytes the crawler fetched."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import feedparser

logger = logging.getLogger(__name__)


class FeedError(ValueError):
    """A response that is not a feed at all (an HTML page, a WAF shell, garbage)."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One feed item with feedparser's untyped dictionary reduced to what the crawl uses."""

    link: str
    title: str = ""
    author: str = ""
    published: str = ""  # as printed: sites print times no standard parser reads
    html: str = ""  # content:encoded when present, else description
    kind: str = ""  # a non-standard <type> element (huxiu: article / video_article)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """Items of a feed and, for a malformed ("bozo") feed, what was wrong with it."""

    items: list[FeedItem]
    problem: str | None = None


def parse_feed(body: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
    """Parse feed bytes; a malformed feed keeps every item feedparser could still read.

    Raises FeedError when nothing in the response is a feed item.
    """
    # Bytes, never a str: feedparser fetches a string that looks like a URL by itself.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    # Feeds are read for text, never displayed: sanitising their HTML and resolving relative
    # links inside it cost more than the rest of the feed's parsing.
    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    problem = _describe_problem(parsed) if parsed.get("bozo") else None
    items = [item for item in map(_item_from_entry, parsed.entries) if item is not None]
    if not items and (problem or not parsed.get("version")):
        raise FeedError(f"no feed items in {url}: {problem or 'not an RSS or Atom document'}")
    return ParsedFeed(items, problem)


def _describe_problem(parsed: Any) -> str:
    exception = parsed.get("bozo_exception")
    return f"{type(exception).__name__}: {exception}" if exception else "malformed feed"


def _item_from_entry(entry: Any) -> FeedItem | None:
    link = entry.get("link") or ""
    if not link:
        return None
    content = entry.get("content") or []
    html = content[0].get("value", "") if content else entry.get("summary", "")
    return FeedItem(
        link=link,
        title=entry.get("title", ""),
        author=entry.get("author", ""),
        published=entry.get("published") or entry.get("updated") or "",
        html=html or "",
        kind=entry.get("type", "") if isinstance(entry.get("type"), str) else "",
    )
