"""Downloader middlewares."""

from __future__ import annotations

import asyncio

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.settings import BaseSettings

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
