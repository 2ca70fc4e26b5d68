"""`followup check-sites`: does each site module still read its site? The pure part.

Pages are read by the site module alone, never by the generic fallback (the crawl's safety net
would hide a module that no longer matches the site's layout); a `generic` source is read by
the generic extractor, which is its module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from crawler.extract import MIN_ARTICLE_CHARS, WAF_MARKERS_RE, blocked_reason, extract_generic
from crawler.model import Document, Entry
from crawler.sites import Site
from crawler.text import has_words, word_count

# The newest entries of a source whose pages are checked.
PAGES_PER_SOURCE = 2
VERDICTS = ("ok", "broken", "blocked", "unreadable")


@dataclass(frozen=True, slots=True)
class ListCheck:
    """A feed or list: how many entries it gave, or why it gave none."""

    url: str
    entries: int = 0
    error: str = ""


@dataclass(frozen=True, slots=True)
class PageCheck:
    """What the site module read from one article page (text_chars: word characters)."""

    url: str
    title: bool = False
    text_chars: int = 0
    date: bool = False
    author: bool = False
    blocked: str = ""  # a verification page: the module could not be judged on it
    error: str = ""  # the page could not be fetched

    @property
    def read(self) -> bool:
        """The module found a title and an article's worth of text."""
        return self.title and self.text_chars >= MIN_ARTICLE_CHARS


@dataclass(slots=True)
class SourceCheck:
    """One source's check: its lists, the pages checked, and the verdict."""

    source: str
    module: str
    lists: list[ListCheck] = field(default_factory=list)
    pages: list[PageCheck] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """ok (the module read a page), broken (it read none of the pages it got), blocked
        (every page was a verification page), unreadable (no page to check)."""
        judged = [p for p in self.pages if not p.blocked and not p.error]
        if any(p.read for p in judged):
            return "ok"
        if judged:
            return "broken"
        return "blocked" if any(p.blocked for p in self.pages) else "unreadable"


def check_page(site: Site, document: Document) -> PageCheck:
    """Read a page with the site module only and say which fields came out."""
    article = site.extract(document) if site.id != "generic" else extract_generic(document)
    if article is None:
        return PageCheck(document.url, blocked=_blocked(document, ""))
    return PageCheck(
        document.url,
        title=bool(article.title.strip()),
        text_chars=word_count(article.text),
        date=article.published is not None,
        author=bool(article.author.strip()),
        blocked=_blocked(document, article.text),
    )


def _blocked(document: Document, text: str) -> str:
    if has_words(text, MIN_ARTICLE_CHARS) or not WAF_MARKERS_RE.search(document.text):
        return ""
    return blocked_reason(document.text, text)


def newest_entries(entries: Iterable[Entry], *, count: int = PAGES_PER_SOURCE) -> list[Entry]:
    """The newest entries by publication time (undated ones last), one per URL."""
    unique = {entry.url: entry for entry in reversed(list(entries))}
    oldest = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(unique.values(), key=lambda e: e.published or oldest, reverse=True)
    return ordered[:count]


def format_checks(checks: Sequence[SourceCheck]) -> str:
    """A block of lines per source: its verdict, each list, each page's fields."""
    lines = []
    for check in checks:
        lines.append(f"{check.source} (site module {check.module}): {check.verdict}")
        for lst in check.lists:
            outcome = lst.error or f"{lst.entries} entries"
            lines.append(f"  list  {lst.url}  {outcome}")
        for page in check.pages:
            lines.append(f"  page  {page.url}  {_page_outcome(page)}")
    return "\n".join(lines)


def _page_outcome(page: PageCheck) -> str:
    if page.error:
        return page.error
    fields = (
        f"title {_yes(page.title)}, text {page.text_chars} chars, "
        f"date {_yes(page.date)}, author {_yes(page.author)}"
    )
    return f"{fields} ({page.blocked})" if page.blocked else fields


def _yes(value: bool) -> str:
    return "yes" if value else "NO"


def checks_json(checks: Sequence[SourceCheck]) -> str:
    """The checks as a JSON list, each with its verdict."""
    return json.dumps(
        [{**asdict(c), "verdict": c.verdict} for c in checks], ensure_ascii=False, indent=2
    )
