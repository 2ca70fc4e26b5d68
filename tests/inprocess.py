"""Crawls in the test process: the followup spider, pipeline and middlewares on one reactor.

A Twisted reactor cannot be restarted, so the tests get one for the whole session: Scrapy's
own asyncio reactor (AsyncioSelectorReactor, as `followup crawl` installs it), running in a
background thread. Each crawl is handed to that thread with `callFromThread` and the test
waits for its end with a generous ceiling. The crawl is the product's own: the settings,
spider arguments and result of crawler.runner, only Scrapy's CrawlerRunner in place of the
CrawlerProcess that owns a process's reactor and signals.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.config import load_seeds

if TYPE_CHECKING:  # Scrapy is imported by the first crawl, not by every test session
    from scrapy.crawler import Crawler
    from scrapy.settings import Settings

    from crawler.checks import SourceCheck
    from crawler.runner import CrawlResult

# A crawl of the tests' web takes well under a second; this only stops a hung test.
CRAWL_CEILING = 300.0
ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


class ReactorThread:
    """The session's reactor, running in a daemon thread until stop()."""

    def __init__(self) -> None:
        from scrapy.utils.reactor import install_reactor

        install_reactor(ASYNCIO_REACTOR)
        from twisted.internet import reactor

        self.reactor: Any = reactor
        self.thread = threading.Thread(
            target=reactor.run,
            kwargs={"installSignalHandlers": False},
            name="twisted reactor",
            daemon=True,
        )
        self.thread.start()

    def crawl(
        self,
        seeds_dir: Path,
        db_path: Path,
        *,
        settings: Mapping[str, Any],
        sources: Sequence[str] = (),
        topics: Sequence[str] = (),
    ) -> CrawlResult:
        """One crawl of the seeds into db_path, as `followup crawl` runs it; blocks until done."""
        from crawler.runner import crawl_result, crawl_settings, spider_arguments
        from crawler.spiders.followup import FollowupSpider

        seeds = load_seeds(seeds_dir)
        crawler = self.run(
            FollowupSpider,
            crawl_settings(db_path, settings),
            spider_arguments(seeds, sources=sources, topics=topics),
        )
        return crawl_result(crawler)

    def run(self, spidercls: type, settings: Settings, arguments: Mapping[str, Any]) -> Crawler:
        """Run one spider with these settings and arguments; its Crawler once it has ended."""
        from scrapy.crawler import CrawlerRunner

        runner = CrawlerRunner(settings)
        crawler = runner.create_crawler(spidercls)
        outcome: queue.Queue[object] = queue.Queue(maxsize=1)

        def start() -> None:
            runner.crawl(crawler, **arguments).addBoth(outcome.put)

        self.reactor.callFromThread(start)
        try:
            ended = outcome.get(timeout=CRAWL_CEILING)
        except queue.Empty:
            self.reactor.callFromThread(runner.stop)
            raise AssertionError(f"the crawl had not ended after {CRAWL_CEILING:.0f} s") from None
        if hasattr(ended, "raiseException"):  # a twisted Failure
            ended.raiseException()
        return crawler

    def stop(self) -> None:
        if self.reactor.running:
            self.reactor.callFromThread(self.reactor.stop)
        self.thread.join(timeout=60)


_reactor: ReactorThread | None = None


def reactor_thread() -> ReactorThread:
    """The session's reactor thread, started on first use."""
    global _reactor
    if _reactor is None:
        _reactor = ReactorThread()
    return _reactor


def stop_reactor_thread() -> None:
    """Stop the session's reactor thread if a test started it."""
    if _reactor is not None:
        _reactor.stop()


def crawl_in_process(
    seeds_dir: Path,
    db_path: Path,
    *,
    settings: Mapping[str, Any],
    sources: Sequence[str] = (),
    topics: Sequence[str] = (),
) -> dict[str, Any]:
    """What `followup crawl --json` prints: {"run_id": …, "sources": {id: figures}}."""
    result = reactor_thread().crawl(
        seeds_dir, db_path, settings=settings, sources=sources, topics=topics
    )
    return {"run_id": result.run_id, "sources": result.summary}


def check_sites_in_process(
    seeds_dir: Path, *, settings: Mapping[str, Any], sources: Sequence[str] = ()
) -> list[SourceCheck]:
    """What `followup check-sites` checks (crawler.runner.run_checks), in this process."""
    from crawler.runner import project_settings
    from crawler.spiders.check import CheckSitesSpider

    seeds = load_seeds(seeds_dir).select(sources=sources)
    crawler = reactor_thread().run(CheckSitesSpider, project_settings(settings), {"seeds": seeds})
    spider: Any = crawler.spider
    return list(spider.checks.values())


def crawl_logged(
    seeds_dir: Path,
    db_path: Path,
    *,
    settings: Mapping[str, Any],
    sources: Sequence[str] = (),
    topics: Sequence[str] = (),
) -> tuple[CrawlResult, str]:
    """One crawl in this process, and its warnings and errors as `followup crawl` writes them
    to stderr (Scrapy's log format), for the tests that read the log or hand it to the
    daemon's reading of a finished crawl (crawler.polling.read_run)."""
    with logged_lines() as lines:
        result = reactor_thread().crawl(
            seeds_dir, db_path, settings=settings, sources=sources, topics=topics
        )
    return result, "\n".join(lines)


@contextmanager
def logged_lines(level: int = logging.WARNING) -> Iterator[list[str]]:
    """The log records of the block at `level` and above, formatted as Scrapy formats them.

    Only one crawl runs at a time in a test process (its test waits for it), so every record
    of the block is that crawl's."""
    from scrapy.settings.default_settings import LOG_DATEFORMAT, LOG_FORMAT

    lines: list[str] = []
    handler = _ListHandler(lines, level)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATEFORMAT))
    logging.root.addHandler(handler)
    try:
        yield lines
    finally:
        logging.root.removeHandler(handler)


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str], level: int) -> None:
        super().__init__(level)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
