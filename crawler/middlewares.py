"""Downloader middlewares: retries with backoff and Retry-After, robots.txt kept in the store,
redirects kept on each source's site. Only Scrapy's public hooks are used."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.httpobj import urlparse_cached

from crawler.faults import extend_deadline
from crawler.pipelines import StorePipeline
from crawler.redirects import SiteScope, refused_redirect
from crawler.report import stats_key
from crawler.store import RobotsTxtCache

logger = logging.getLogger(__name__)

BACKOFF_META = "followup_backoff"
# Set by the spider on every request of a source: its id (for per-source counts) and its
# SiteScope (where redirects may lead).
SOURCE_META = "followup_source"
SCOPE_META = "followup_scope"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Answers that say "not you" or "not so fast", counted per source as http_<status>.
REFUSAL_STATUSES = frozenset({403, 429})
ROBOTS_PATH = "/robots.txt"
STORED_FLAG = "followup-stored"


class OffsiteRedirect(IgnoreRequest):
    """A redirect that leaves the source's site (or HTTP): not followed, the page not extracted."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"{url} redirects to {detail}")
        self.detail = detail


class RobotsTxtUnavailable(IgnoreRequest):
    """robots.txt could not be fetched: Scrapy then crawls the host as if it allowed all."""


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, each one waiting twice as long as the last (FOLLOWUP_RETRY_BACKOFF, 2×, 4×…).

    A 429 waits its Retry-After instead, and holds back every request to that host meanwhile;
    a Retry-After beyond FOLLOWUP_RETRY_AFTER_MAX gives that request up for this run (the
    daemon's own backoff then spaces the source's runs). 403 and 429 answers are counted per
    source. Waits are spent in each request's own coroutine, so other hosts keep flowing.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("FOLLOWUP_RETRY_BACKOFF")
        self.max_retry_after = settings.getfloat("FOLLOWUP_RETRY_AFTER_MAX")
        self.paused_until: dict[str, float] = {}  # host → time.monotonic() it may be asked again

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        if response.status in REFUSAL_STATUSES:
            self._count(request, f"http_{response.status}")
        wait = retry_after(response) if response.status == 429 else None
        if wait is not None and wait > self.max_retry_after:
            logger.warning(
                "%s asks to wait %.0f s (Retry-After), more than FOLLOWUP_RETRY_AFTER_MAX: "
                "giving it up for this run",
                request.url,
                wait,
            )
            return response
        result = super().process_response(request, response)
        if isinstance(result, Request):
            self._schedule(result, wait)
            if wait is not None:
                self.paused_until[urlparse_cached(request).netloc] = time.monotonic() + wait
        return result

    def process_exception(
        self, request: Request, exception: Exception, spider: Any = None
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            self._schedule(result, None)
        return result

    def _schedule(self, retry: Request, wait: float | None) -> None:
        if wait is None and self.backoff > 0:
            wait = self.backoff * 2 ** (retry.meta["retry_times"] - 1)
        if wait:
            retry.meta[BACKOFF_META] = wait

    async def process_request(self, request: Request) -> None:
        paused = self.paused_until.get(urlparse_cached(request).netloc, 0.0) - time.monotonic()
        delay = max(request.meta.pop(BACKOFF_META, 0), paused)
        if delay > 0:
            await asyncio.sleep(delay)
            extend_deadline(request, delay)

    def _count(self, request: Request, event: str) -> None:
        source = request.meta.get(SOURCE_META)
        if source is not None:
            self.crawler.stats.inc_value(stats_key(source, event))


def retry_after(response: Response) -> float | None:
    """The wait a Retry-After header asks for, in seconds (delay or HTTP date); None if absent."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)


class OffsiteRedirectMiddleware:
    """Stops a redirect that leaves the source's site before it is followed.

    Placed before Scrapy's RedirectMiddleware (a higher order), it sees the 3xx answer first;
    a redirect Scrapy followed anyway (a meta refresh) is stopped before its request is sent.
    Either way the request's errback gets an OffsiteRedirect naming the target host.
    """

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get("Location")
        if response.status in REDIRECT_STATUSES and location:
            self._check(request, urljoin(request.url, location.decode("latin-1").strip()))
        return response

    def process_request(self, request: Request) -> None:
        if request.meta.get("redirect_urls"):
            self._check(request, request.url)

    def _check(self, request: Request, target: str) -> None:
        scope = request.meta.get(SCOPE_META)
        if not isinstance(scope, SiteScope):
            return
        detail = refused_redirect(scope, target)
        if detail is not None:
            raise OffsiteRedirect(request.url, detail)


class StoredRobotsTxtMiddleware:
    """Keeps each host's robots.txt in the followup store for FOLLOWUP_ROBOTSTXT_MAX_AGE
    (RFC 9309 allows a day of caching), and reports an unreachable robots.txt in the log.

    Every crawl is a new process, so without it a poll of an unchanged source would fetch
    robots.txt beside each feed: two requests where one is enough. It sits after Scrapy's
    RobotsTxtMiddleware and answers that middleware's own robots.txt requests from the store.
    It reads and writes through the store's owner, StorePipeline; a crawl without it
    (check-sites) gets Scrapy's behaviour unchanged.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_age = timedelta(seconds=crawler.settings.getfloat("FOLLOWUP_ROBOTSTXT_MAX_AGE"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoredRobotsTxtMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> Response | None:
        if not is_robots_request(request):
            return None
        # Its failure is reported once, by process_exception, not as a retry given up.
        request.meta.setdefault("give_up_log_level", logging.INFO)
        store = self._store()
        if store is None:
            return None
        body = store.get_robots_txt(request.url, max_age=self.max_age)
        if body is None:
            return None
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("followup/robotstxt/stored")
        return Response(request.url, status=200, body=body, flags=[STORED_FLAG])

    def process_response(self, request: Request, response: Response) -> Response:
        store = self._store()
        if (
            store is not None
            and is_robots_request(request)
            and STORED_FLAG not in response.flags
            and response.status < 500  # a 5xx says nothing about the rules
        ):
            store.save_robots_txt(request.url, response.status, response.body)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        if is_robots_request(request) and not isinstance(exception, IgnoreRequest):
            # Scrapy would log this with a traceback at ERROR; it crawls on either way.
            logger.info(
                "cannot fetch %s (%s: %s); crawling that host as if it allowed everything",
                request.url,
                type(exception).__name__,
                exception,
            )
            raise RobotsTxtUnavailable(str(exception)) from exception

    def _store(self) -> RobotsTxtCache | None:
        """The store owner's robots.txt cache; None without one (a spider that stores nothing)."""
        owner = self.crawler.get_item_pipeline(StorePipeline)
        return owner.robots_txt if owner is not None else None


def is_robots_request(request: Request) -> bool:
    """True for the robots.txt request Scrapy's RobotsTxtMiddleware makes for a host."""
    return bool(request.meta.get("dont_obey_robotstxt")) and (
        urlparse_cached(request).path == ROBOTS_PATH
    )
