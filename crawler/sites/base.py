"""What every site module provides, and the registry that finds one by id or by URL."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, TypeVar

import lxml.etree
import lxml.html

from crawler.dates import parse_datetime
from crawler.feeds import FeedItem
from crawler.listing import parse_generic_list
from crawler.model import Article, Document, Entry
from crawler.text import content_lines, html_lines
from crawler.urls import canonicalize_url

# Comments, scripts and styles may hold markup-like text: skipped whole when counting tags.
_OPAQUE = r"<!--.*?-->|<(?P<raw>script|style)\b.*?</(?P=raw)\s*>"
_HEAD_RE = re.compile(r"<head\b.*?</head\s*>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class OpeningTag:
    """The opening tag of an element with a class token or id, to be found in raw HTML."""

    pattern: re.Pattern[str]  # a whole opening tag, matched at its '<'
    needle: str  # the class or id, which every such tag contains

    def search(self, html: str) -> re.Match[str] | None:
        """The first such tag in html.

        The needle is looked for first (str.find is far cheaper than trying a pattern at every
        tag); the pattern then checks the tag around each occurrence.
        """
        position = 0
        while (found := html.find(self.needle, position)) >= 0:
            start = html.rfind("<", 0, found)
            match = self.pattern.match(html, start) if start >= 0 else None
            if match is not None and match.end() > found:
                return match
            position = found + len(self.needle)
        return None


def opening_tag(tag: str = r"[a-z][a-z0-9]*", *, css_class: str = "", id: str = "") -> OpeningTag:
    """The opening tag of an element with this class token (or this id), as in raw HTML."""
    if css_class:
        needle = css_class
        attribute = rf"""class\s*=\s*["'](?:[^"']*\s)?{re.escape(css_class)}(?:\s[^"']*)?["']"""
    else:
        needle = id
        attribute = rf"""id\s*=\s*["']{re.escape(id)}["']"""
    pattern = re.compile(rf"<(?P<tag>{tag})\b[^>]*?\s{attribute}[^>]*>", re.IGNORECASE)
    return OpeningTag(pattern, needle)


@functools.cache
def _tags_of(tag: str) -> re.Pattern[str]:
    return re.compile(
        rf"{_OPAQUE}|<(?P<close>/?){re.escape(tag)}(?=[\s/>])[^>]*>", re.IGNORECASE | re.DOTALL
    )


def outer_html(html: str, opening: OpeningTag) -> str | None:
    """The markup of the first element whose opening tag matches, found without parsing.

    Its end is the closing tag that balances the element's own tag name (comments, scripts and
    styles skipped); None when there is no such element or its tags do not balance.
    """
    start = opening.search(html)
    if start is None:
        return None
    depth = 0
    for match in _tags_of(start["tag"].lower()).finditer(html, start.start()):
        if match["raw"] is not None or match.group(0).startswith("<!--"):
            continue
        if match["close"]:
            depth -= 1
        elif not match.group(0).endswith("/>"):
            depth += 1
        if depth == 0:
            return html[start.start() : match.end()]
    return None


def parse_fragment(html: str | None) -> lxml.html.HtmlElement | None:
    """One element's markup (from outer_html) parsed alone; None for None."""
    if html is None:
        return None
    try:
        return lxml.html.fragment_fromstring(html)
    except lxml.etree.ParserError:  # markup that does not parse to one element
        return None


def parse_head(html: str) -> lxml.html.HtmlElement | None:
    """The page's <head> parsed alone (title, meta), or None when the page has none."""
    match = _HEAD_RE.search(html)
    return lxml.html.document_fromstring(match.group(0)) if match else None


def parse_region(html: str, opening: OpeningTag) -> lxml.html.HtmlElement | None:
    """The page's <head> and the first element matching opening, parsed as one small document.

    None when the element is not found: the caller then reads the whole page.
    """
    element = outer_html(html, opening)
    if element is None:
        return None
    head = _HEAD_RE.search(html)
    region = f"<html>{head.group(0) if head else ''}<body>{element}</body></html>"
    return lxml.html.document_fromstring(region)


class Site:
    """Generic behaviour; a site module overrides what its site does differently."""

    id: ClassVar[str] = "generic"
    name: ClassVar[str] = "any site"
    # Other names the site signs titles with ("… - 虎嗅网"); id and name count already.
    aliases: ClassVar[tuple[str, ...]] = ()
    # Regular expressions matched against a URL to pick the module for a topic seed.
    url_patterns: ClassVar[tuple[str, ...]] = ()
    # The site's own domains (subdomains included): a redirect anywhere else is not followed.
    # Empty for the generic module: the hosts of a source's configured URLs stand in.
    domains: ClassVar[tuple[str, ...]] = ()
    # A feed description with less text than this is a teaser: the page is fetched instead.
    min_feed_chars: ClassVar[int] = 400

    def canonical_url(self, url: str) -> str:
        """The article's identity; a site with several hosts for one page overrides this."""
        return canonicalize_url(url)

    def matches_url(self, url: str) -> bool:
        """True when a URL belongs to this site (used for topic seeds given as bare URLs)."""
        return any(re.search(pattern, url) for pattern in self.url_patterns)

    def request_headers(self, url: str) -> dict[str, str]:
        """Extra headers for requests to this site."""
        return {}

    def request_url(self, url: str) -> str:
        """The address to request for a feed or list of the seeds, which stays its identity
        (caijing's roll adds a cache-buster)."""
        return url

    def parse_feed_item(self, item: FeedItem) -> Entry:
        """Turn a feed item into an entry; dates are parsed here, never by feedparser."""
        return Entry(
            url=self.canonical_url(item.link),
            title=item.title.strip(),
            author=item.author.strip(),
            published=self.parse_time(item.published),
            html=item.html,
            kind=item.kind,
        )

    def parse_time(self, value: str) -> datetime | None:
        """Parse a time as this site prints it (Beijing time unless it says otherwise)."""
        return parse_datetime(value)

    def feed_article(self, entry: Entry) -> Article | None:
        """The article straight from a full-text feed, or None when the page must be fetched."""
        text = "\n".join(content_lines(html_lines(entry.html))) if entry.html else ""
        if len(text) < self.min_feed_chars:
            return None
        return Article(entry.url, entry.title, text, entry.author, entry.published)

    def parse_list(self, document: Document) -> list[Entry]:
        """Entries of a listing page or JSON list endpoint."""
        return parse_generic_list(document, canonical_url=self.canonical_url)

    def extract(self, document: Document) -> Article | None:
        """Site-specific extraction of an article page; None hands over to generic extraction."""
        return None


SiteT = TypeVar("SiteT", bound=type[Site])
SITES: dict[str, Site] = {}


def register(cls: SiteT) -> SiteT:
    """Class decorator: make a site module available under its id."""
    if cls.id in SITES:
        raise ValueError(f"site id {cls.id!r} registered twice")
    SITES[cls.id] = cls()
    return cls


def get_site(site_id: str) -> Site:
    """The registered site module with this id (KeyError names the known ids)."""
    try:
        return SITES[site_id]
    except KeyError:
        raise KeyError(f"unknown site {site_id!r}; known: {', '.join(sorted(SITES))}") from None


def site_for_url(url: str) -> Site:
    """The site module whose URL patterns match, else the generic one."""
    for site in SITES.values():
        if site.matches_url(url):
            return site
    return SITES["generic"]


register(Site)
