"""The baseline: a bare Scrapy spider that fetches what a followup crawl fetches, and nothing more.

    python -m bench.bare PLAN.json [-s NAME=VALUE]...

PLAN.json maps each feed or list URL to the article page URLs a followup crawl requests after
reading it. The spider requests the lists first and each list's pages from its callback, as
followup does, but parses nothing: the callbacks only schedule requests. Settings are the
project's (crawler/settings.py: robots.txt, User-Agent, timeouts, size caps, concurrency) with
followup's own pipeline, middleware and log formatter left out, plus the command-line overrides.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.settings import Settings

# followup's components: the baseline runs Scrapy's defaults in their place.
NOT_BARE = {
    "ITEM_PIPELINES": {},
    "DOWNLOADER_MIDDLEWARES": {},
    "LOG_FORMATTER": "scrapy.logformatter.LogFormatter",
    "SPIDER_MODULES": [],
}


class BareSpider(scrapy.Spider):
    """Requests every list URL of the plan, then its article pages; keeps nothing."""

    name = "bare"

    def __init__(self, *args: Any, plan: dict[str, list[str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url, pages in self.plan.items():
            yield scrapy.Request(
                url, callback=self.parse_list, cb_kwargs={"pages": pages}, dont_filter=True
            )

    def parse_list(self, response: Response, pages: list[str]) -> Iterator[scrapy.Request]:
        for url in pages:
            yield scrapy.Request(url, callback=self.parse_page)

    def parse_page(self, response: Response) -> None:
        return None


def bare_settings(overrides: dict[str, str]) -> Settings:
    """The project's Scrapy settings without followup's components, plus overrides."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.update(NOT_BARE, priority="project")
    settings.update(overrides, priority="cmdline")
    return settings


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("plan", type=Path, help="JSON: list URL -> article page URLs")
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    overrides = dict(pair.split("=", 1) for pair in args.settings)
    plan = json.loads(args.plan.read_text(encoding="utf-8"))
    process = CrawlerProcess(bare_settings(overrides))
    process.crawl(BareSpider, plan=plan)
    process.start()


if __name__ == "__main__":
    main()
