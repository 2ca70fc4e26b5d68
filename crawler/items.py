"""Items the spider hands to the store pipeline: everything a crawl writes travels as one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crawler.changes import Validators
from crawler.model import Article


@dataclass(slots=True, repr=False)  # an article's repr would hold its whole text
class ArticleItem:
    """An extracted article to match, deduplicate and store."""

    source: str
    article: Article
    baseline_topic: str | None = None  # set for a topic's known coverage (topic seeds)

    def __repr__(self) -> str:
        return f"<ArticleItem {self.source} {self.article.url} {self.article.title!r}>"


@dataclass(slots=True)
class RejectedItem:
    """A URL that gave no article this time; recorded in `seen` and retried on a later crawl."""

    source: str
    url: str
    status: Literal["blocked", "failed", "redirected"]
    detail: str


@dataclass(slots=True, repr=False)
class RevisionItem:
    """A new version of a stored article (from a full-text feed or a re-checked page)."""

    source: str
    article: Article
    # A re-checked page's: compared with its last fetch; saved with the revision, or alone.
    validators: Validators | None = None

    def __repr__(self) -> str:
        return f"<RevisionItem {self.source} {self.article.url} {self.article.title!r}>"


@dataclass(slots=True)
class ValidatorsItem:
    """How a fetched page's current version is identified (ETag, Last-Modified, content hash),
    sent with its next request."""

    url: str
    validators: Validators


@dataclass(slots=True, repr=False)
class ListItem:
    """A feed or list read this crawl: its validators are kept when the crawl ends only if
    every entry it named is settled by then (else its next request is unconditional)."""

    url: str
    validators: Validators
    entry_urls: list[str]

    def __repr__(self) -> str:
        return f"<ListItem {self.url} ({len(self.entry_urls)} entries)>"
