"""The store pipeline: the one owner of the followup database during a crawl.

It opens the store, records the crawl run, and writes everything the spider yields: articles,
duplicates and seen outcomes, revisions, validators. The spider reads through `reads`
(crawler.store.CrawlReads) and the robots.txt middleware through `robots_txt`; neither writes.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.config import SEEDS_SOURCE, Seeds
from crawler.faults import record_store_failure
from crawler.ingest import Outcome, ingest_article, recheck_article, revise_article
from crawler.items import ArticleItem, ListItem, RejectedItem, RevisionItem, ValidatorsItem
from crawler.report import all_failed, format_summary, stats_key, summarize
from crawler.store import CrawlReads, RobotsTxtCache, Store, StoreError, open_store

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


class StoreNotOpen(RuntimeError):
    """The store was asked for before the crawl opened it (or after it closed)."""


class StorePipeline:
    """Owns the crawl's Store: opens it, starts and finishes the run, writes every item."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._store: Store | None = None
        self.run_id: int | None = None
        self.summary: dict[str, dict[str, int]] = {}
        # Feeds and lists read this crawl, by URL: their validators are decided at the end.
        self.lists: dict[str, ListItem] = {}
        # Article id → source, for articles this crawl stored as new.
        self.stored_now: dict[int, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        pipeline = cls(crawler)
        # Not close_spider: the run is finished with its close reason, which only this signal
        # carries; every item has been through process_item by then.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    @property
    def store(self) -> Store:
        if self._store is None:
            raise StoreNotOpen("the followup store is open only while the crawl runs")
        return self._store

    @property
    def reads(self) -> CrawlReads:
        """The spider's view of the store: reads only."""
        return self.store

    @property
    def robots_txt(self) -> RobotsTxtCache | None:
        """The robots.txt middleware's view of the store; None outside a crawl."""
        return self._store

    def open_spider(self) -> None:
        spider: Any = self.crawler.spider
        if spider.setup_error is None:
            try:
                self._store = open_store(self.crawler.settings["FOLLOWUP_DB"])
            except StoreError as exc:
                spider.fail_setup(str(exc))
        if self._store is None:
            self._store = Store.memory()  # the crawl of nothing still has its run
        try:
            # Scrapyd passes its job id as the spider argument _job (crawler/nodes.py).
            job = getattr(spider, "_job", None)
            self.run_id = self._store.start_run((s.id for s in self._seeds().sources), job=job)
        except sqlite3.DatabaseError as exc:
            record_store_failure(self.crawler, exc)

    def spider_closed(self, reason: str) -> None:
        if self._store is None:
            return
        assert self.crawler.stats is not None
        sources = reported_sources(self._seeds())
        self.summary = summarize(self.crawler.stats.get_stats(), sources)
        logger.info("per-source figures:\n%s", format_summary(self.summary))
        if all_failed(self.summary, sources):
            logger.warning("every source failed: nothing was read (see the errors above)")
        store, self._store = self._store, None
        spider: Any = self.crawler.spider
        try:
            if self.run_id is not None and not spider.store_failure:
                self._save_list_validators(store)
                store.finish_run(self.run_id, {"reason": reason, "sources": self.summary})
            store.close()
        except sqlite3.DatabaseError as exc:
            record_store_failure(self.crawler, exc)

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
        if isinstance(item, RejectedItem):
            self.store.save_seen(item.url, item.source, item.status, detail=item.detail)
            self._count(item.source, item.status)
            raise DropItem(f"{item.status}: {item.url}: {item.detail}", log_level="WARNING")
        if isinstance(item, ValidatorsItem):
            self.store.save_validators(item.url, item.validators)
            raise DropItem(f"validators of {item.url} saved", log_level="DEBUG")
        if isinstance(item, ListItem):
            self.lists[item.url] = item
            raise DropItem(f"list {item.url} read", log_level="DEBUG")
        if isinstance(item, RevisionItem):
            return self._revise(item)
        if not isinstance(item, ArticleItem):
            return item
        return self._ingest(item)

    def _ingest(self, item: ArticleItem) -> ArticleItem:
        spider: Any = self.crawler.spider
        outcome = ingest_article(
            self.store,
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

    def _revise(self, item: RevisionItem) -> RevisionItem:
        """A feed's new version of a stored article, or a re-checked page (with validators)."""
        topics = self._seeds().topics
        if item.validators is None:
            outcome = revise_article(self.store, item.article, source=item.source, topics=topics)
        else:
            outcome = recheck_article(
                self.store,
                item.article,
                source=item.source,
                topics=topics,
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

    def _save_list_validators(self, store: Store) -> None:
        """Validators of the lists read, kept only when every entry they named is settled.

        A 304 next time means "nothing to do", so it may only come back when nothing is left
        to do: an entry still unprocessed (a crawl stopped or killed), or failed and waiting
        for its retry, makes the next request of its list unconditional.
        """
        for url, item in self.lists.items():
            if item.validators.conditional and store.all_settled(item.entry_urls):
                store.save_validators(url, item.validators)
            else:
                store.delete_validators([url])

    def _seeds(self) -> Seeds:
        spider: Any = self.crawler.spider
        return spider.seeds


def reported_sources(seeds: Seeds) -> list[str]:
    """The ids a crawl's summary has figures for: its sources, and 'seeds' for topic seeds."""
    sources = [s.id for s in seeds.sources]
    if any(t.seeds for t in seeds.topics):
        sources.append(SEEDS_SOURCE)
    return sources
