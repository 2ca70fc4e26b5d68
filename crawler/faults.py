"""Faults that end a crawl as a failure: a database that can no longer be written (disk full,
damaged file), a crawl past its deadline, a response that takes too long in total.

A database error is never one traceback per item: the first is logged as one line saying what
to do, the crawl is closed, and the CLI exits 1 with that line (the daemon backs off on it).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

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


class ResponseDeadlineExceeded(IgnoreRequest):
    """A URL that gave no complete response within its deadline, retries included."""


class CrawlDeadlineReached(IgnoreRequest):
    """A request not made, or not finished, before the crawl's own deadline (--timeout)."""


DEADLINE_META = "followup_deadline"
CUT_BY_CRAWL_META = "followup_cut_by_crawl_deadline"
DEADLINE_STAT = "followup/crawl/deadline_reached"


class ResponseDeadlineMiddleware:
    """A total deadline per URL (FOLLOWUP_RESPONSE_DEADLINE seconds), across its retries, and
    none beyond the crawl's own (CLOSESPIDER_TIMEOUT, `followup crawl --timeout`).

    DOWNLOAD_TIMEOUT bounds one attempt; a server that trickles a byte a second used to cost
    each page every attempt's full timeout plus the waits between them, and Scrapy lets the
    downloads in flight finish before a crawl past its CLOSESPIDER_TIMEOUT closes. Each
    attempt gets what is left of both deadlines as its download_timeout.
    """

    def __init__(self, deadline: float, crawl_timeout: float) -> None:
        self.deadline = deadline
        self.crawl_timeout = crawl_timeout
        self.crawl_end: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResponseDeadlineMiddleware:
        settings = crawler.settings
        middleware = cls(
            settings.getfloat("FOLLOWUP_RESPONSE_DEADLINE"),
            settings.getfloat("CLOSESPIDER_TIMEOUT"),
        )
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    def spider_opened(self) -> None:
        """The crawl's clock starts where Scrapy's CloseSpider starts its own."""
        if self.crawl_timeout > 0:
            self.crawl_end = time.monotonic() + self.crawl_timeout

    def process_request(self, request: Request) -> None:
        now = time.monotonic()
        left = self._url_left(request, now)
        crawl_left = self.crawl_end - now if self.crawl_end is not None else None
        if crawl_left is not None and crawl_left <= 0:
            raise CrawlDeadlineReached("the crawl's --timeout was reached")
        if crawl_left is not None and (left is None or crawl_left < left):
            request.meta[CUT_BY_CRAWL_META] = True
            left = crawl_left
        if left is not None:
            request.meta["download_timeout"] = min(request.meta.get("download_timeout", left), left)

    def _url_left(self, request: Request, now: float) -> float | None:
        if self.deadline <= 0:
            return None
        left = float(request.meta.setdefault(DEADLINE_META, now + self.deadline)) - now
        if left <= 0:
            raise ResponseDeadlineExceeded(
                f"no complete response within {self.deadline:g} s, retries included "
                "(FOLLOWUP_RESPONSE_DEADLINE)"
            )
        return left


def extend_deadline(request: Request, seconds: float) -> None:
    """Give a URL's deadline back a wait spent before sending it (Retry-After, retry backoff):
    the deadline bounds a server's slowness, not the politeness we owe it."""
    if DEADLINE_META in request.meta:
        request.meta[DEADLINE_META] = float(request.meta[DEADLINE_META]) + seconds


def cut_by_crawl_deadline(crawler: Crawler, failure: Failure) -> bool:
    """True for a request that failed only because the crawl reached its --timeout: it is
    not an outcome of the URL, and the next crawl requests it as if never tried. The crawl
    is marked as stopped by its deadline (it may still end "finished", just before Scrapy's
    own timer would have closed it)."""
    request = getattr(failure, "request", None)
    cut = request is not None and request.meta.get(CUT_BY_CRAWL_META)
    timed_out = failure.check(DownloadTimeoutError, TimeoutError, CancelledError)
    if not (failure.check(CrawlDeadlineReached) or (cut and timed_out)):
        return False
    assert crawler.stats is not None
    crawler.stats.set_value(DEADLINE_STAT, 1)
    return True


def reached_crawl_deadline(stats: Any) -> bool:
    """True when the crawl was stopped, or had requests cut, by its --timeout."""
    return stats.get_value("finish_reason") == "closespider_timeout" or bool(
        stats.get_value(DEADLINE_STAT)
    )
