"""The values that flow through a crawl: fetched documents, feed entries, articles."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Document:
    """A fetched feed, list or page as the pure core sees it: its URL and decoded text."""

    url: str
    text: str
    content_type: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a feed or list: a link to an article and what the feed or list said of it."""

    url: str
    title: str = ""
    author: str = ""
    published: datetime | None = None
    html: str = ""  # the feed's description or content, HTML
    kind: str = ""  # the feed's own item type where it has one (huxiu: video_article)


@dataclass(frozen=True, slots=True)
class Article:
    """An extracted article: clean text, one paragraph per line, credit lines removed."""

    url: str
    title: str
    text: str
    author: str = ""
    published: datetime | None = None

    def completed_from(self, entry: Entry | None) -> Article:
        """Fill what the page lacks (often the date or author) from the feed or list entry."""
        if entry is None:
            return self
        return replace(
            self,
            title=self.title or entry.title,
            author=self.author or entry.author,
            published=self.published or entry.published,
        )
