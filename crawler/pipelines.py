"""The store pipeline: every item ends as a row (article, duplicate, or seen status)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.faults import record_store_failure
from crawler.ingest import Outcome, ingest_article, revise_article
from crawler.items import ArticleItem, RejectedItem, RevisionItem
from crawler.report import stats_key

logger = logging.getLogger(__name__)

# Outcome of ingest_article → the per-source counter it bumps.
OUTCOME_EVENTS = {
    "stored": "new",
    "baseline": "baseline",
    "duplicate": "duplicates",
    # The story was stored by an earlier crawl; this copy, its first publication, replaces it.
    "earlier": "duplicates",
    "irrelevant": "irrelevant",
    "undecodable": "failed",  # retried later, never a final "irrelevant"
    "known": "already_seen",
}


class StorePipeline:
    """Matches topics, detects near-duplicates and writes to the spider's store."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        # Article id → source, for articles this crawl stored as new.
        self.stored_now: dict[int, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if getattr(self.crawler.spider, "store_failure", None):
            raise DropItem(
                "not stored: the database failed (see the error above)", log_level="DEBUG"
            )
        try:
            return self._process(item)
        except sqlite3.DatabaseError as exc:
            record_store_failure(self.crawler, exc)
            raise DropItem(f"not stored: {exc}", log_level="DEBUG") from None

    def _process(self, item: Any) -> Any:
        spider: Any = self.crawler.spider
        if isinstance(item, RejectedItem):
            spider.store.save_seen(item.url, item.source, item.status, detail=item.detail)
            self._count(item.source, item.status)
            raise DropItem(f"{item.status}: {item.url}: {item.detail}", log_level="WARNING")
        if isinstance(item, RevisionItem):
            return self._revise(spider, item)
        if not isinstance(item, ArticleItem):
            return item
        outcome = ingest_article(
            spider.store,
            item.article,
            source=item.source,
            topics=spider.seeds.topics,
            baseline_topic=item.baseline_topic,
            notify=spider.notify_targets,
        )
        self._count_outcome(item.source, outcome)
        if outcome.status == "duplicate" and outcome.original is not None:
            original = outcome.original
            raise DropItem(
                f"near-duplicate of {original.url} ({original.method}, distance {original.distance})",
                log_level="INFO",
            )
        if outcome.status == "earlier" and outcome.original is not None:
            logger.info(
                "%s was published before %s, its near-duplicate: it is now the original",
                item.article.url,
                outcome.original.url,
            )
        if outcome.status == "undecodable":
            raise DropItem(f"text did not decode, retried later: {item.article.url}")
        if outcome.status in ("irrelevant", "known"):
            raise DropItem(f"{outcome.status}: {item.article.url}", log_level="DEBUG")
        return item

    def _revise(self, spider: Any, item: RevisionItem) -> RevisionItem:
        outcome = revise_article(
            spider.store,
            item.article,
            source=item.source,
            topics=spider.seeds.topics,
            validators=item.validators,
        )
        if outcome != "revised":
            raise DropItem(f"{outcome}: {item.article.url}", log_level="DEBUG")
        self._count(item.source, "revised")
        return item

    def _count_outcome(self, source: str, outcome: Outcome) -> None:
        """Count an outcome so that the figures say what the crawl left stored, whatever
        order its pages came in: an earlier original that replaced a copy stored by this
        same crawl is the new one, and that copy the duplicate."""
        replaced = outcome.original.article_id if outcome.original else None
        if outcome.status == "earlier" and replaced in self.stored_now:
            copy_source = self.stored_now[replaced]
            self._count(copy_source, "new", -1)
            self._count(copy_source, "duplicates")
            self._count(source, "new")
            self.stored_now[replaced] = source
            return
        if outcome.status == "stored" and outcome.article_id is not None:
            self.stored_now[outcome.article_id] = source
        self._count(source, OUTCOME_EVENTS[outcome.status])

    def _count(self, source: str, event: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(stats_key(source, event), count)
