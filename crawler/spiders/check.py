"""The check-sites spider: each source's feeds and lists, then its newest pages, read by its
site module alone. It fetches with the crawl's own settings and middlewares (User-Agent,
robots.txt, retries, Retry-After, off-site redirects) and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.checks import ListCheck, PageCheck, SourceCheck, check_page, newest_entries
from crawler.config import Seeds, Source, load_seeds
from crawler.feeds import FeedError, parse_feed
from crawler.model import Entry
from crawler.spiders.followup import describe_failure, source_meta
from crawler.spiders.responses import content_type_of, read_document
from crawler.urls import URLError


class CheckSitesSpider(scrapy.Spider):
    """Fetches every selected source's lists and newest pages; results in `self.checks`."""

    name = "check-sites"
    seeds: Seeds
    checks: dict[str, SourceCheck]
    _entries: dict[str, list[Entry]]
    _waiting: dict[str, int]
    _pages: dict[str, list[str]]
    # Nothing is stored: no pipeline.
    custom_settings = {"ITEM_PIPELINES": {}}  # noqa: RUF012 (Scrapy's own attribute)

    def __init__(self, *args: Any, seeds: Seeds | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seeds = seeds

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> CheckSitesSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        # `scrapy crawl check-sites` reads the seeds FOLLOWUP_SEEDS names; the runner passes them.
        spider.seeds = spider._seeds or load_seeds(crawler.settings["FOLLOWUP_SEEDS"])
        sources = spider.seeds.sources
        spider.checks = {s.id: SourceCheck(s.id, s.site) for s in sources}
        spider._entries = {s.id: [] for s in sources}
        spider._waiting = {s.id: len(s.feeds) + len(s.lists) for s in sources}
        spider._pages = {}  # per source, the page URLs chosen, newest first
        return spider

    async def start(self) -> AsyncIterator[Any]:
        for source in self.seeds.sources:
            for url in (*source.feeds, *source.lists):
                yield scrapy.Request(
                    source.module.request_url(url),
                    callback=self.parse_list,
                    errback=self.list_failed,
                    headers=source.module.request_headers(url),
                    cb_kwargs={"source": source, "list_url": url},
                    meta=source_meta(source),
                    dont_filter=True,
                )

    def parse_list(self, response: Response, source: Source, list_url: str) -> Iterator[Any]:
        try:
            entries = (
                _feed_entries(source, response)
                if list_url in source.feeds
                else source.module.parse_list(read_document(response))
            )
        except FeedError as exc:
            self.checks[source.id].lists.append(ListCheck(list_url, error=str(exc)))
            return self._list_done(source)
        self.checks[source.id].lists.append(ListCheck(list_url, entries=len(entries)))
        self._entries[source.id].extend(entries)
        return self._list_done(source)

    def list_failed(self, failure: Failure) -> Iterator[Any]:
        kwargs = failure.request.cb_kwargs  # type: ignore[attr-defined]
        source = kwargs["source"]
        check = ListCheck(kwargs["list_url"], error=describe_failure(failure))
        self.checks[source.id].lists.append(check)
        return self._list_done(source)

    def _list_done(self, source: Source) -> Iterator[Any]:
        """Once every list of the source has answered, its newest pages are fetched."""
        self._waiting[source.id] -= 1
        if self._waiting[source.id]:
            return
        order = [*source.feeds, *source.lists]
        self.checks[source.id].lists.sort(key=lambda check: order.index(check.url))
        newest = newest_entries(self._entries[source.id])
        self._pages[source.id] = [entry.url for entry in newest]
        for entry in newest:
            yield scrapy.Request(
                entry.url,
                callback=self.parse_page,
                errback=self.page_failed,
                headers=source.module.request_headers(entry.url),
                cb_kwargs={"source": source, "url": entry.url},
                meta=source_meta(source),
            )

    def parse_page(self, response: Response, source: Source, url: str) -> None:
        page = check_page(source.module, read_document(response))
        self._add_page(source, replace(page, url=url))  # the entry's URL, not a redirect's

    def page_failed(self, failure: Failure) -> None:
        kwargs = failure.request.cb_kwargs  # type: ignore[attr-defined]
        self._add_page(kwargs["source"], PageCheck(kwargs["url"], error=describe_failure(failure)))

    def _add_page(self, source: Source, page: PageCheck) -> None:
        """Pages in the order chosen (newest first), whatever order they arrive in."""
        pages = self.checks[source.id].pages
        pages.append(page)
        pages.sort(key=lambda p: self._pages[source.id].index(p.url))


def _feed_entries(source: Source, response: Response) -> list[Entry]:
    feed = parse_feed(response.body, url=response.url, content_type=content_type_of(response))
    entries = []
    for item in feed.items:
        try:
            entries.append(source.module.parse_feed_item(item))
        except URLError:
            continue  # a bad item says nothing about the site module
    return entries
