"""`followup worker`: a long-lived crawl process the daemon hands sources to.

One Twisted reactor (asyncio) runs for the worker's whole life, so Scrapy is imported and
started once, not once per poll: a poll whose feed answers 304 costs a few requests, not a
new Python process. Each crawl is its own Scrapy `Crawler` (the same FollowupSpider,
pipelines and settings as `followup crawl`), several at once on an `AsyncCrawlerProcess`;
one stuck crawl holds up none of the others. The protocol is crawler/worker_protocol.py.

Each crawl holds its source's lock (crawler/locks.py: a flock beside a SQLite store, a session
advisory lock in a PostgreSQL one) while it runs; it goes if the worker dies. SIGTERM or SIGINT: every running crawl is asked to stop once
(Scrapy's graceful close), and the worker ends when they have.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import signal
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scrapy.crawler import AsyncCrawlerProcess, Crawler

from crawler.config import Seeds
from crawler.locks import Held, Locks, open_locks
from crawler.report import all_failed
from crawler.runner import CrawlError, crawl_result, project_settings, tune_collector
from crawler.spiders.followup import FollowupSpider
from crawler.worker_protocol import (
    ERRORS_KEPT,
    Command,
    CrawlReport,
    ProtocolError,
    encode_report,
    parse_command,
)

logger = logging.getLogger(__name__)

# Seconds between looks at a crawl asked to stop before its engine was running.
STOP_RETRY = 0.1


class RunningCrawl:
    """One source's crawl in this worker, and the error lines logged while it ran."""

    def __init__(self, source: str, crawler: Crawler, lock: Held) -> None:
        self.source = source
        self.crawler = crawler
        self.lock = lock
        self.errors: list[str] = []
        self.stop_asked = False
        self.ended = False
        self.stopping: asyncio.Future[None] | None = None

    def stop(self) -> None:
        """A graceful stop, asked once however often this is called."""
        if not self.stop_asked:
            self.stop_asked = True
            self._stop_once_running()

    def _stop_once_running(self) -> None:
        # Scrapy 2.19 loses a stop asked while the engine is still opening the spider: the
        # crawl then never completes (scrapy/scrapy#6916). Wait until its engine runs.
        if self.ended:
            return
        try:
            running = self.crawler.engine.running
        except RuntimeError:  # "Crawler.engine is not set yet"
            running = False
        if not running:
            asyncio.get_running_loop().call_later(STOP_RETRY, self._stop_once_running)
            return
        self.stopping = asyncio.ensure_future(self.crawler.stop_async())

    def report(self) -> CrawlReport:
        """What `followup crawl --source ID --json` would have printed and exited with."""
        try:
            result = crawl_result(self.crawler)
        except CrawlError as exc:
            errors = self.errors or [str(exc)]
            return CrawlReport(self.source, 1, None, tuple(errors), rss_mb())
        summary = {"run_id": result.run_id, "sources": result.summary, "error": result.error}
        # A database that failed or the crawl's deadline fails the run, as the crawl command's
        # exit status 1 does; its one line is the error the daemon records.
        failed = result.error is not None or all_failed(result.summary, [self.source])
        errors = [*self.errors, *([f"error: {result.error}"] if result.error else [])]
        return CrawlReport(self.source, int(failed), summary, tuple(errors), rss_mb())


class ErrorCollector(logging.Handler):
    """Hands each ERROR line to the crawls it names (by source id), else to every one."""

    def __init__(self, crawls: Mapping[str, RunningCrawl]) -> None:
        super().__init__(logging.ERROR)
        self.crawls = crawls

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = record.getMessage().splitlines()[0] if record.getMessage() else ""
        except Exception:  # a broken log call must not break the crawl
            return
        named = [c for s, c in self.crawls.items() if f" {s}" in f" {line}"]
        for crawl in named or list(self.crawls.values()):
            crawl.errors = [*crawl.errors[-ERRORS_KEPT + 1 :], line]


class Worker:
    """Reads commands, runs crawls, writes a report line as each ends."""

    def __init__(self, process: AsyncCrawlerProcess, seeds: Seeds, locks: Locks) -> None:
        self.process = process
        self.seeds = seeds
        self.locks = locks
        self.crawls: dict[str, RunningCrawl] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.out = sys.stdout.buffer

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop_all)
        logging.getLogger().addHandler(ErrorCollector(self.crawls))
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            try:
                self.handle(parse_command(line))
            except ProtocolError as exc:
                logger.error("worker: %s", exc)
        # End of input: the daemon wants no more crawls (or is gone); finish the running ones.
        while self.tasks:
            await asyncio.wait(set(self.tasks))

    def handle(self, command: Command) -> None:
        if command.stop_reason is not None:
            if crawl := self.crawls.get(command.source):
                logger.info("%s: stopping: %s", command.source, command.stop_reason)
                crawl.stop()
            return
        self.start(command.source)

    def start(self, source: str) -> None:
        try:
            lock = None if source in self.crawls else self.locks.take_source(source)
        except sqlite3.DatabaseError as exc:  # a PostgreSQL store that cannot be reached
            error = f"{source}: its lock could not be taken: {exc}"
            self.send(CrawlReport(source, 1, None, (error,), rss_mb()))
            return
        if lock is None:
            self.send(CrawlReport(source, busy=True))
            return
        crawler = self.process.create_crawler(FollowupSpider)
        crawl = RunningCrawl(source, crawler, lock)
        self.crawls[source] = crawl
        task = self.process.crawl(crawler, seeds=self.seeds, source=[source], topic=[])
        self.tasks.add(task)
        task.add_done_callback(lambda done: self.finished(crawl, done))

    def finished(self, crawl: RunningCrawl, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        crawl.ended = True
        del self.crawls[crawl.source]
        if not task.cancelled() and (exc := task.exception()) is not None:
            crawl.errors.append(f"{type(exc).__name__}: {exc}")
        try:
            self.send(crawl.report())
        finally:
            crawl.lock.release()

    def stop_all(self) -> None:
        logger.info("worker %d: stopping %d crawl(s)", os.getpid(), len(self.crawls))
        for crawl in self.crawls.values():
            crawl.stop()

    def send(self, report: CrawlReport) -> None:
        self.out.write(encode_report(report))
        self.out.flush()


def rss_mb() -> float:
    """This process's resident memory now (its peak where /proc is missing), in MB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_worker(
    seeds: Seeds, db_path: str | Path, *, settings: Mapping[str, Any] | None = None
) -> None:
    """Run crawls as the daemon asks, on stdin, until its end. Blocks; once per process."""
    from scrapy.utils.defer import deferred_from_coro

    merged = project_settings({**(settings or {}), "FOLLOWUP_DB": str(db_path)})
    process = AsyncCrawlerProcess(merged)  # installs the asyncio reactor: import it after
    from twisted.internet import reactor as installed

    reactor: Any = installed
    worker = Worker(process, seeds, open_locks(db_path))
    done = deferred_from_coro(worker.run())
    done.addErrback(lambda failure: logger.error("worker failed: %s", failure.getTraceback()))
    done.addBoth(lambda _: reactor.stop())
    tune_collector()
    process.start(stop_after_crawl=False, install_signal_handlers=False)
