"""Downloader middlewares."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.settings import BaseSettings
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler

from crawler.store import Store

BACKOFF_META = "followup_backoff"


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, each one waiting twice as long as the last (FOLLOWUP_RETRY_BACKOFF, 2×, 4×…).

    Immediate retries hit a struggling server while it is still down; the wait is spent
    in this request's own coroutine, so other requests keep flowing.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("FOLLOWUP_RETRY_BACKOFF")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    def _retry(self, request: Request, reason: str | Exception | type[Exception]) -> Request | None:
        retry = super()._retry(request, reason)
        if retry is not None and self.backoff > 0:
            retry.meta[BACKOFF_META] = self.backoff * 2 ** (retry.meta["retry_times"] - 1)
        return retry

    async def process_request(self, request: Request) -> None:
        delay = request.meta.pop(BACKOFF_META, 0)
        if delay:
            await asyncio.sleep(delay)


class StoredRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt handling, with each host's robots.txt kept in the followup store
    for FOLLOWUP_ROBOTSTXT_MAX_AGE (RFC 9309 allows a day of caching).

    Every crawl is a new process, so without it a poll of an unchanged source would fetch
    robots.txt beside each feed: two requests where one is enough. A spider without a store
    (not followup's) gets Scrapy's behaviour unchanged.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.max_age = timedelta(seconds=crawler.settings.getfloat("FOLLOWUP_ROBOTSTXT_MAX_AGE"))

    async def robot_parser(self, request: Request) -> RobotParser | None:
        netloc = urlparse_cached(request).netloc
        store = self._store()
        if netloc not in self._parsers and store is not None:
            body = store.get_robots_txt(robots_url(request), max_age=self.max_age)
            if body is not None:
                self._parsers[netloc] = build_from_crawler(self._parserimpl, self.crawler, body)
                self._stats.inc_value("followup/robotstxt/stored")
        return await super().robot_parser(request)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        store = self._store()
        if store is not None and response.status < 500:  # a 5xx says nothing about the rules
            store.save_robots_txt(robots_url(request), response.status, response.body)
        await super()._parse_robots(response, netloc, request)

    def _store(self) -> Store | None:
        return getattr(self.crawler.spider, "store", None)


def robots_url(request: Request) -> str:
    """The robots.txt address for a request's host."""
    parts = urlparse_cached(request)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"
