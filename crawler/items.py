"""Items the spider hands to the store pipeline."""

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
    validators: Validators | None = None  # a re-checked page's, saved with the revision

    def __repr__(self) -> str:
        return f"<RevisionItem {self.source} {self.article.url} {self.article.title!r}>"
