"""Faults that end a crawl as a failure: a database that can no longer be written (disk full,
damaged file), a crawl past its deadline, a response that takes too long in total.

A database error is never one traceback per item: the first is logged as one line saying what
to do, the crawl is closed, and the CLI exits 1 with that line (the daemon backs off on it).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from typing import Any

from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro

from crawler.store import describe_store_error

logger = logging.getLogger(__name__)

STORE_FAILED = "store failed"  # the close reason of a crawl whose database failed


def record_store_failure(crawler: Crawler, exc: sqlite3.Error) -> None:
    """Log a database failure once, keep it on the spider for the CLI, and end the crawl."""
    spider: Any = crawler.spider
    if getattr(spider, "store_failure", None):
        return
    message = describe_store_error(crawler.settings["FOLLOWUP_DB"], exc)
    if spider is not None:
        spider.store_failure = message
    logger.error("%s", message)
    assert crawler.stats is not None
    crawler.stats.set_value("followup/store/failed", 1)
    if crawler.engine is not None and crawler.engine.spider is not None:
        deferred_from_coro(crawler.engine.close_spider_async(reason=STORE_FAILED))


class StoreFailureMiddleware:
    """A spider callback that hit a failed database ends the crawl with one clear line."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreFailureMiddleware:
        return cls(crawler)

    def process_spider_exception(
        self, response: Response, exception: Exception
    ) -> Iterable[Any] | None:
        if not isinstance(exception, sqlite3.DatabaseError):
            return None
        record_store_failure(self.crawler, exception)
        return ()
