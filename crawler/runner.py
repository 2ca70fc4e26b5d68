"""Run one crawl in this process with the project's Scrapy settings."""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import BaseSettings, Settings

from crawler.checks import SourceCheck
from crawler.config import Seeds
from crawler.faults import reached_crawl_deadline
from crawler.pipelines import StorePipeline
from crawler.spiders.check import CheckSitesSpider
from crawler.spiders.followup import FollowupSpider


@dataclass(frozen=True, slots=True)
class CrawlResult:
    """What one crawl did, per source."""

    run_id: int
    summary: dict[str, dict[str, int]]
    error: str | None = None  # why the crawl failed as a whole (database, deadline); one line
    store_failed: bool = False  # the database failed (disk full, damaged): error says how


class CrawlError(RuntimeError):
    """A crawl that could not start (its errors are in the log)."""


# The cyclic collector's young-generation threshold in a crawl process (Python's default: 700).
# A crawl allocates millions of short-lived containers (parsed pages, items, Deferreds): at 700 it
# collected ~350 times per 1,000 articles and walked the ~100,000 objects its imports left on each
# full collection, ~5 % of the crawl's CPU. At 2,000, with start-up's objects frozen, the
# collector costs under half as much, for ~3 MB more peak memory.
GC_YOUNG_THRESHOLD = 2_000


def tune_collector() -> None:
    """Set a crawl process's collector: what start-up built (modules, classes, settings) moved
    out of its view, young objects collected less often. Once per process, before crawling."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def project_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """crawler.settings plus command-line overrides (which win, as `scrapy crawl -s` does)."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.update(dict(overrides or {}), priority="cmdline")
    return settings


def crawl_settings(db_path: str | Path, settings: Mapping[str, Any] | None = None) -> Settings:
    """The project's settings for a crawl into db_path."""
    return project_settings({**(settings or {}), "FOLLOWUP_DB": str(db_path)})


def spider_arguments(
    seeds: Seeds, *, sources: Sequence[str] = (), topics: Sequence[str] = ()
) -> dict[str, Any]:
    """The keyword arguments FollowupSpider takes for one crawl of the selected seeds."""
    return {"seeds": seeds, "source": list(sources), "topic": list(topics)}


def crawl_result(crawler: Crawler) -> CrawlResult:
    """What a finished crawl did, as the store's owner recorded it, or CrawlError when its
    spider never started."""
    spider: Any = crawler.spider
    owner = _store_owner(crawler)
    error = (
        getattr(spider, "setup_error", None)
        or getattr(spider, "store_failure", None)
        or _deadline_error(crawler.stats, crawler.settings)
    )
    if spider is None or owner is None or not (owner.run_id is not None or error):
        raise CrawlError("the crawl did not start; the log above says why")
    store_failed = bool(getattr(spider, "store_failure", None))
    return CrawlResult(owner.run_id or 0, owner.summary, error, store_failed)


def _store_owner(crawler: Crawler) -> StorePipeline | None:
    try:
        return crawler.get_item_pipeline(StorePipeline)
    except RuntimeError:  # no engine: the crawl stopped before Scrapy built one
        return None


def _deadline_error(stats: Any, settings: BaseSettings) -> str | None:
    if stats is None or not reached_crawl_deadline(stats):
        return None
    seconds = settings.getfloat("CLOSESPIDER_TIMEOUT")
    return (
        f"the crawl ran into its deadline ({seconds:g} s, --timeout) and was stopped; "
        "what it did not reach is fetched by the next crawl"
    )


def run_crawl(
    seeds: Seeds,
    db_path: str | Path,
    *,
    sources: Sequence[str] = (),
    topics: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
) -> CrawlResult:
    """Crawl the selected sources once into db_path. Blocks until the crawl ends.

    A Twisted reactor cannot be restarted: call this at most once per process (tests run
    their crawls on one long-lived reactor instead, with the same three helpers above).
    """
    process = CrawlerProcess(crawl_settings(db_path, settings))
    crawler = process.create_crawler(FollowupSpider)
    process.crawl(crawler, **spider_arguments(seeds, sources=sources, topics=topics))
    tune_collector()
    process.start()
    return crawl_result(crawler)


def run_checks(seeds: Seeds, *, settings: Mapping[str, Any] | None = None) -> list[SourceCheck]:
    """Check every source of the seeds once (crawler.checks). At most once per process."""
    process = CrawlerProcess(project_settings(settings))
    crawler = process.create_crawler(CheckSitesSpider)
    process.crawl(crawler, seeds=seeds)
    process.start()
    spider: Any = crawler.spider
    if spider is None:
        raise CrawlError("the check did not start; the log above says why")
    return list(spider.checks.values())
