"""Run one crawl in this process with the project's Scrapy settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from crawler.checks import SourceCheck
from crawler.config import Seeds
from crawler.pipelines import StorePipeline
from crawler.spiders.check import CheckSitesSpider
from crawler.spiders.followup import FollowupSpider


@dataclass(frozen=True, slots=True)
class CrawlResult:
    """What one crawl did, per source."""

    run_id: int
    summary: dict[str, dict[str, int]]


class CrawlError(RuntimeError):
    """A crawl that could not start (its errors are in the log)."""


def project_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """crawler.settings plus command-line overrides (which win, as `scrapy crawl -s` does)."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.update(dict(overrides or {}), priority="cmdline")
    return settings


def run_crawl(
    seeds: Seeds,
    db_path: str | Path,
    *,
    sources: Sequence[str] = (),
    topics: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
) -> CrawlResult:
    """Crawl the selected sources once into db_path. Blocks until the crawl ends.

    A Twisted reactor cannot be restarted: call this at most once per process.
    """
    merged = project_settings({**(settings or {}), "FOLLOWUP_DB": str(db_path)})
    process = CrawlerProcess(merged)
    crawler = process.create_crawler(FollowupSpider)
    process.crawl(crawler, seeds=seeds, source=list(sources), topic=list(topics))
    process.start()
    return crawl_result(crawler)


def crawl_result(crawler: Crawler) -> CrawlResult:
    """What a finished crawl did, as its store's owner recorded it (CrawlError: it never ran)."""
    try:
        owner = crawler.get_item_pipeline(StorePipeline)
    except RuntimeError:  # no engine: the crawl stopped before Scrapy built one
        owner = None
    if owner is None or owner.run_id is None:
        raise CrawlError("the crawl did not start; the log above says why")
    return CrawlResult(owner.run_id, owner.summary)


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
