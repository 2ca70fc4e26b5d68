"""The followup spider: feeds and lists of each source → new article pages → items."""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.changes import Validators, content_hash, parse_validators
from crawler.config import SEEDS_SOURCE, ConfigError, Seeds, Source, load_seeds
from crawler.dates import from_iso, utcnow
from crawler.extract import Blocked, extract_article, extract_page
from crawler.faults import cut_by_crawl_deadline, record_store_failure
from crawler.feeds import FeedError, FeedItem, parse_feed
from crawler.items import ArticleItem, ListItem, RejectedItem, RevisionItem, ValidatorsItem
from crawler.middlewares import SCOPE_META, SOURCE_META, OffsiteRedirect
from crawler.model import Article, Entry
from crawler.notify.targets import Target, load_targets
from crawler.pipelines import StorePipeline
from crawler.redirects import SiteScope
from crawler.report import stats_key
from crawler.sites import Site, get_site
from crawler.spiders.responses import content_type_of, header, read_document
from crawler.store import CrawlReads

logger = logging.getLogger(__name__)

SCRAPY_CRAWL_HINT = (
    "with scrapy crawl, name them with -s FOLLOWUP_SEEDS=DIR -s FOLLOWUP_DB=FILE "
    "(or the environment variables of the same names)"
)
# Feeds, lists and re-checked pages are requested conditionally: a 304 reaches the callback.
CONDITIONAL_META = {"handle_httpstatus_list": [304]}


class StorePipelineMissing(RuntimeError):
    """The followup spider run without the pipeline that owns its store."""


class FollowupSpider(scrapy.Spider):
    """Polls every selected source once and yields the articles it has not seen."""

    name = "followup"
    seeds: Seeds
    # The store as this spider may use it: reads. Everything it writes is an item.
    store: CrawlReads
    notify_targets: tuple[Target, ...]
    _sources: dict[str, Source]

    def __init__(
        self,
        *args: Any,
        seeds: Seeds | None = None,
        source: str | Iterable[str] = (),
        topic: str | Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._seeds = seeds
        # `scrapy crawl followup -a source=a,b` passes strings; the runner passes lists.
        self.only_sources = _names(source)
        self.only_topics = _names(topic)
        self.validators: dict[str, Validators] = {}
        # Set (one line) when the database failed: the crawl ends, and as a failure.
        self.store_failure: str | None = None
        self.setup_error: str | None = None  # bad seeds or database: nothing was crawled

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> FollowupSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        try:
            seeds = spider._seeds or load_seeds(crawler.settings["FOLLOWUP_SEEDS"])
            spider.seeds = seeds.select(sources=spider.only_sources, topics=spider.only_topics)
            # Outbox rows are written with the articles; sending is the crawl command's, after.
            spider.notify_targets = load_targets(seeds.directory, topics=seeds.topics)
        except ConfigError as exc:
            spider.fail_setup(str(exc))
        spider._sources = {source.id: source for source in spider.seeds.sources}
        return spider

    def fail_setup(self, problem: str) -> None:
        """Seeds or database unusable: one line, and a crawl of nothing, not a traceback.

        `scrapy crawl followup` gets here unchecked (the followup CLI checks first); the store
        pipeline calls it for a database it cannot open.
        """
        logger.error("%s; %s", problem, SCRAPY_CRAWL_HINT)
        self.setup_error = problem
        self.seeds = Seeds(Path(self.crawler.settings["FOLLOWUP_SEEDS"]), ())
        self.notify_targets = ()
        self._sources = {}

    async def start(self) -> AsyncIterator[Any]:
        try:
            self.store = self._store_reads()
            self.validators = self.store.get_validators(
                [url for source in self.seeds.sources for url in (*source.feeds, *source.lists)]
            )
            requests = list(self._start_requests())
        except sqlite3.DatabaseError as exc:
            record_store_failure(self.crawler, exc)
            return
        for request in requests:
            yield request

    def _start_requests(self) -> Iterator[scrapy.Request]:
        for source in self.seeds.sources:
            for url in source.feeds:
                yield self._list_request(url, source, self.parse_feed)
            for url in source.lists:
                yield self._list_request(url, source, self.parse_list)
            for request in self._recheck_requests(source):
                yield request
        for request in self._topic_seed_requests():
            yield request

    def _store_reads(self) -> CrawlReads:
        """The read side of the store StorePipeline opened for this crawl."""
        owner = self.crawler.get_item_pipeline(StorePipeline)
        if owner is None:
            raise StorePipelineMissing(
                "the followup spider stores through crawler.pipelines.StorePipeline: "
                "keep it in ITEM_PIPELINES"
            )
        return owner.reads

    def _list_request(self, url: str, source: Source, callback: Any) -> scrapy.Request:
        known = self.validators.get(url, Validators())
        return scrapy.Request(
            source.module.request_url(url),
            callback=callback,
            errback=self.list_failed,
            headers={**source.module.request_headers(url), **known.request_headers()},
            cb_kwargs={"source": source, "list_url": url},
            meta={**CONDITIONAL_META, **source_meta(source)},
            dont_filter=True,
        )

    def _recheck_requests(self, source: Source) -> Iterator[scrapy.Request]:
        """Stored articles of the source published within its `recheck` window, conditionally."""
        if source.recheck is None:
            return
        rows = list(self.store.iter_recheck(source.id, since=utcnow() - source.recheck))
        validators = self.store.get_validators([row["url"] for row in rows])
        for row in rows:
            entry = Entry(
                row["url"],
                row["title"],
                row["author"] or "",
                from_iso(row["published_at"]) if row["published_at"] else None,
            )
            known = validators.get(entry.url, Validators())
            yield scrapy.Request(
                entry.url,
                callback=self.parse_recheck,
                errback=self.recheck_failed,
                headers={**source.module.request_headers(entry.url), **known.request_headers()},
                cb_kwargs={"source": source, "entry": entry},
                meta={**CONDITIONAL_META, **source_meta(source)},
                dont_filter=True,
            )

    def _topic_seed_requests(self) -> Iterator[scrapy.Request]:
        seeds = {(s.url, s.site, t.id) for t in self.seeds.topics for s in t.seeds}
        known = self.store.get_known([url for url, _, _ in seeds])
        for url, site_id, topic_id in sorted(seeds):
            if url not in known:
                site = get_site(site_id)
                yield self._page_request(
                    Entry(url),
                    source_id=SEEDS_SOURCE,
                    site=site,
                    scope=SiteScope.for_urls([url], domains=site.domains),
                    baseline=topic_id,
                )

    def _page_request(
        self,
        entry: Entry,
        *,
        source_id: str,
        site: Site,
        scope: SiteScope,
        baseline: str | None = None,
    ) -> scrapy.Request:
        return scrapy.Request(
            entry.url,
            callback=self.parse_page,
            errback=self.page_failed,
            headers=site.request_headers(entry.url),
            cb_kwargs={"source_id": source_id, "site": site, "entry": entry, "baseline": baseline},
            meta={SOURCE_META: source_id, SCOPE_META: scope},
        )

    # Feeds and lists -----------------------------------------------------------------------

    def parse_feed(self, response: Response, source: Source, list_url: str) -> Iterator[Any]:
        if self._not_modified(response, source):
            return
        content_type = content_type_of(response)
        try:
            feed = parse_feed(response.body, url=response.url, content_type=content_type)
        except FeedError as exc:
            self._list_error(source, response.url, f"{exc}; check the feed URL in sources.toml")
            return
        if not feed.items:
            self._count(source.id, "empty_lists")
        if feed.problem:
            logger.warning(
                "malformed feed %s [%s]: %s; using the %d items it still gave",
                response.url,
                source.id,
                feed.problem,
                len(feed.items),
            )
        entries = list(self._feed_entries(source, response.url, feed.items))
        yield self._list_parsed(source, list_url, response, entries)
        yield from self._follow(source, entries)

    def _feed_entries(self, source: Source, url: str, items: list[FeedItem]) -> Iterator[Entry]:
        """Entries of a feed's items; a bad item (a URL that is none, a value a site module
        cannot read) costs only itself, with a warning counted per source."""
        for item in items:
            # Invalid bytes replaced in it: the page itself is read, not the damaged feed text.
            usable = replace(item, html="") if item.damaged else item
            try:
                yield source.module.parse_feed_item(usable)
            except (ValueError, OverflowError, TypeError, LookupError) as exc:
                logger.warning("feed %s [%s]: skipping an item: %s", url, source.id, exc)
                self._count(source.id, "items_skipped")

    def parse_list(self, response: Response, source: Source, list_url: str) -> Iterator[Any]:
        if self._not_modified(response, source):
            return
        document = read_document(response)
        entries = source.module.parse_list(document)
        if not entries:
            self._count(source.id, "empty_lists")
            self._list_error(
                source, response.url, "no article links found; has the page layout changed?"
            )
            return
        yield self._list_parsed(source, list_url, response, entries)
        yield from self._follow(source, entries)

    def _not_modified(self, response: Response, source: Source) -> bool:
        """True for a 304: the list is as it was on the last crawl, nothing in it is new."""
        if response.status != 304:
            return False
        self._count(source.id, "lists_read")
        self._count(source.id, "not_modified")
        return True

    def _list_parsed(
        self, source: Source, list_url: str, response: Response, entries: list[Entry]
    ) -> ListItem:
        self._count(source.id, "lists_read")
        logger.info("source %s: %d entries in %s", source.id, len(entries), list_url)
        # An empty answer is suspect (health's no_entries): its validators are dropped, so the
        # next crawl asks for the whole list again rather than accepting a 304 for it.
        validators = (
            parse_validators(lambda name: header(response, name)) if entries else Validators()
        )
        return ListItem(list_url, validators, [e.url for e in entries])

    def _follow(self, source: Source, entries: list[Entry]) -> Iterator[Any]:
        self._count(source.id, "entries", len(entries))
        known = self.store.get_known([e.url for e in entries])
        stored = self.store.get_stored_hashes(
            [e.url for e in entries if e.url in known and e.html], source=source.id
        )
        for entry in entries:
            if entry.url in known:
                self._count(source.id, "already_seen")
                if entry.url in stored:
                    yield from self._feed_revision(source, entry, stored[entry.url])
                continue
            article = source.module.feed_article(entry) if entry.html else None
            if article is not None:
                self._count_article(source.id, article, "feed_articles")
                yield ArticleItem(source.id, article)
            else:
                yield self._page_request(
                    entry, source_id=source.id, site=source.module, scope=_scope(source)
                )

    def _feed_revision(self, source: Source, entry: Entry, stored_hash: str) -> Iterator[Any]:
        """A full-text feed showing a stored article with other words: a new version of it."""
        article = source.module.feed_article(entry)
        if article is not None and content_hash(article.title, article.text) != stored_hash:
            yield RevisionItem(source.id, article)

    def list_failed(self, failure: Failure) -> None:
        if cut_by_crawl_deadline(self.crawler, failure):
            return  # the crawl's failure, said once at its end; not this source's
        request = failure.request  # type: ignore[attr-defined]
        source = request.cb_kwargs["source"]
        if failure.check(OffsiteRedirect):
            self._count(source.id, "redirected")
        self._list_error(source, request.cb_kwargs["list_url"], describe_failure(failure))

    def _list_error(self, source: Source, url: str, problem: str) -> None:
        logger.error("source %s: cannot read %s: %s", source.id, url, problem)
        self._count(source.id, "lists_failed")

    # Article pages -------------------------------------------------------------------------

    def parse_page(
        self,
        response: Response,
        source_id: str,
        site: Site,
        entry: Entry,
        baseline: str | None,
    ) -> Iterator[Any]:
        document = read_document(response)
        extraction = extract_page(site, document, entry)
        result = extraction.result
        if isinstance(result, Blocked):
            yield RejectedItem(source_id, entry.url, "blocked", result.reason)
            return
        # The identity is the canonical URL the entry named, not where redirects ended.
        article = replace(result, url=entry.url)
        self._count_article(
            source_id, article, "site_extracted" if extraction.by_site else "fallback_extracted"
        )
        source = self._sources.get(source_id)
        if source is not None and source.recheck is not None:
            # What later re-checks compare the page with: the same extraction of the same page.
            yield ValidatorsItem(entry.url, _page_validators(response, article))
        yield ArticleItem(source_id, article, baseline_topic=baseline)

    def page_failed(self, failure: Failure) -> Iterator[Any]:
        if cut_by_crawl_deadline(self.crawler, failure):
            return  # not the page's fault: the next crawl requests it afresh
        request = failure.request  # type: ignore[attr-defined]
        kwargs = request.cb_kwargs
        if failure.check(OffsiteRedirect):
            detail = failure.value.detail
            yield RejectedItem(kwargs["source_id"], kwargs["entry"].url, "redirected", detail)
            return
        yield RejectedItem(
            kwargs["source_id"], kwargs["entry"].url, "failed", describe_failure(failure)
        )

    def parse_recheck(self, response: Response, source: Source, entry: Entry) -> Iterator[Any]:
        self._count(source.id, "rechecked")
        if response.status == 304:
            return
        document = read_document(response)
        result = extract_article(source.module, document, entry)
        if isinstance(result, Blocked):
            logger.info(
                "source %s: re-check of %s gave no article: %s", source.id, entry.url, result.reason
            )
            return
        # The pipeline compares it with the last fetch (the validators' content hash).
        article = replace(result, url=entry.url)
        yield RevisionItem(source.id, article, _page_validators(response, article))

    def recheck_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        source = request.cb_kwargs["source"]
        logger.info(
            "source %s: re-check of %s failed: %s",
            source.id,
            request.url,
            describe_failure(failure),
        )

    # Bookkeeping ---------------------------------------------------------------------------

    def _count(self, source_id: str, event: str, count: int = 1) -> None:
        self.crawler.stats.inc_value(stats_key(source_id, event), count)

    def _count_article(self, source_id: str, article: Article, event: str) -> None:
        """An article found, by which route, and whether it has a date (health figures)."""
        self._count(source_id, event)
        if article.published is None:
            self._count(source_id, "undated")


def describe_failure(failure: Failure) -> str:
    """A one-line reason for a failed request: HTTP status, timeout, refused connection…"""
    if failure.check(HttpError):
        response = failure.value.response
        return f"HTTP {response.status}"
    if failure.check(OffsiteRedirect):
        return f"redirected to {failure.value.detail}"
    exception = failure.value
    return f"{type(exception).__name__}: {exception}".rstrip(": ")


def _page_validators(response: Response, article: Article) -> Validators:
    return parse_validators(
        lambda name: header(response, name), content_hash=content_hash(article.title, article.text)
    )


@functools.cache
def _scope(source: Source) -> SiteScope:
    """Where the source's requests may be redirected: its site module's domains, its URLs' hosts."""
    return SiteScope.for_urls([*source.feeds, *source.lists], domains=source.module.domains)


def source_meta(source: Source) -> dict[str, Any]:
    """What the middlewares need to know of a source's request: its id and its SiteScope."""
    return {SOURCE_META: source.id, SCOPE_META: _scope(source)}


def _names(value: str | Iterable[str]) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)
