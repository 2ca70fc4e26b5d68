"""`followup daemon`: every source polled on its own schedule, each crawl a child process.

A plain asyncio program. APScheduler's AsyncIOScheduler runs one `async def` job per source
(max_instances=1, coalesce=True); the job starts `python -m crawler crawl --source ID --json`
in a session of its own, waits for it with a timeout, and plans the source's next run from
what the crawl reported (crawler/polling.py). A Twisted reactor cannot be restarted, so a
crawl never runs in this process; a child also gives its memory back when it ends.

Stopping (SIGTERM, SIGINT): pause the scheduler, send each running crawl exactly one SIGTERM
(Scrapy takes a second one as "forcing unclean shutdown"), wait for them, shut down.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import logging.handlers
import os
import signal
import sqlite3
import sys
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from crawler.config import Seeds, Source, format_duration
from crawler.dates import utcnow
from crawler.notify.targets import Target
from crawler.polling import STOPPING, RunReport, after_run, first_run, read_run
from crawler.state import (
    SourceState,
    forget_other_sources,
    get_source_states,
    save_source_state,
)
from crawler.store import Store, describe_store_error

logger = logging.getLogger(__name__)

# A source whose earlier crawl still runs (left behind by a daemon killed with -9) is tried
# again this soon, or at its own interval if that is shorter.
BUSY_RETRY = timedelta(seconds=30)
PRUNE_EVERY = timedelta(days=1)
# Notifications are sent after each crawl, and this often besides: digests fall due and
# failed deliveries are retried at their time, crawl or no crawl.
NOTIFY_EVERY = timedelta(minutes=1)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class DaemonError(RuntimeError):
    """A daemon that cannot start: another one already polls this database."""


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    """How the daemon runs its crawls."""

    seeds_dir: Path
    db_path: Path
    timeout: timedelta = timedelta(minutes=20)  # a crawl running longer is ended
    grace: timedelta = timedelta(seconds=45)  # between its SIGTERM and SIGKILL
    prune_after: timedelta = timedelta(days=90)  # `seen` rows not stored are forgotten then
    crawl_args: tuple[str, ...] = ()  # more arguments for each crawl (-s NAME=VALUE, -v)
    notify: tuple[Target, ...] = ()  # notify.toml: the daemon is their one sender
    python: str = field(default_factory=lambda: sys.executable)

    @property
    def lock_dir(self) -> Path:
        return Path(f"{self.db_path}-locks")

    def crawl_command(self, source_id: str) -> list[str]:
        return [
            self.python,
            "-m",
            "crawler",
            "crawl",
            "--source",
            source_id,
            "--seeds",
            str(self.seeds_dir),
            "--db",
            str(self.db_path),
            "--json",
            # Crawls queue notifications; the daemon sends them (one sender, no races).
            "--no-notify",
            *self.crawl_args,
        ]


class Lock:
    """An exclusive flock on a file, held while open; None from `take` when another holds it.

    A crawl child inherits its source's lock, so a crawl left running by a daemon killed
    with -9 still holds it and the next daemon does not start a second crawl of that source.
    """

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle

    @classmethod
    def take(cls, path: Path) -> Lock | None:
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return cls(handle)

    def fileno(self) -> int:
        return self.handle.fileno()

    def write(self, text: str) -> None:
        self.handle.truncate(0)
        self.handle.write(text)
        self.handle.flush()

    def release(self) -> None:
        self.handle.close()


class Crawl:
    """One crawl child process; asked to stop with exactly one SIGTERM, whoever asks."""

    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        self.process: asyncio.subprocess.Process | None = None
        self.stop_reason: str | None = None
        self.stop_requested = asyncio.Event()
        self.done = asyncio.Event()
        self._signalled = False

    def attach(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        if self.stop_requested.is_set():
            self._terminate()

    def request_stop(self, reason: str) -> None:
        """End the crawl gracefully (its SIGTERM is sent once, however often this is called)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_requested.set()
        self._terminate()

    def _terminate(self) -> None:
        process = self.process
        if process is None or self._signalled or process.returncode is not None:
            return
        self._signalled = True
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
            # Logged after the signal is queued: tests wait for this line before they let a
            # held page answer, so the crawl is certain to see its SIGTERM first.
            logger.info(
                "%s: SIGTERM sent to its crawl (pid %d): %s",
                self.source_id,
                process.pid,
                self.stop_reason,
            )

    def kill(self) -> None:
        """SIGKILL to the crawl's whole session (it leads one of its own)."""
        if self.process is not None and self.process.returncode is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    async def wait(self, *, timeout: timedelta, grace: timedelta) -> tuple[bytes, bytes]:
        """Its output once it ends: by itself, at a stop request, at the timeout, or killed."""
        assert self.process is not None
        output = asyncio.ensure_future(self.process.communicate())
        stop = asyncio.ensure_future(self.stop_requested.wait())
        try:
            await asyncio.wait(
                {output, stop}, timeout=timeout.total_seconds(), return_when=asyncio.FIRST_COMPLETED
            )
            if not output.done():
                self.request_stop(f"timed out after {format_duration(timeout)}")
                await asyncio.wait({output}, timeout=grace.total_seconds())
            if not output.done():
                logger.error(
                    "%s: crawl (pid %d) still running %s after SIGTERM; killing it",
                    self.source_id,
                    self.process.pid,
                    format_duration(grace),
                )
                self.kill()
            return await output
        finally:
            stop.cancel()


class Daemon:
    """The scheduler, one job per source, and the crawls running now."""

    def __init__(self, seeds: Seeds, options: DaemonOptions) -> None:
        self.seeds = seeds
        self.options = options
        self.sources = {source.id: source for source in seeds.sources}
        self.crawls: dict[str, Crawl] = {}
        self.states: dict[str, SourceState] = {}
        self.stopping = asyncio.Event()
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                # A run is never skipped for being late (a busy machine, a long stop).
                "misfire_grace_time": None,
            },
        )
        self.store: Store | None = None
        self.notifying = False
        self.notify_again = False

    async def run(self) -> None:
        """Poll until SIGTERM or SIGINT, then stop cleanly."""
        self.options.lock_dir.mkdir(exist_ok=True)
        lock = Lock.take(self.options.lock_dir / "daemon.lock")
        if lock is None:
            holder = (self.options.lock_dir / "daemon.lock").read_text().strip() or "?"
            raise DaemonError(
                f"another followup daemon (pid {holder}) is polling {self.options.db_path}; "
                "stop it first, or use another --db"
            )
        lock.write(str(os.getpid()))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, signal.Signals(signum).name)
        try:
            self.store = Store.open(self.options.db_path)  # migrated before any crawl starts
            self._schedule_sources()
            self.scheduler.start()
            logger.info(
                "followup daemon (pid %d): polling %s into %s",
                os.getpid(),
                ", ".join(self.sources),
                self.options.db_path,
            )
            await self.stopping.wait()
            await self._stop()
        finally:
            if self.store is not None:
                self.store.close()
            lock.release()

    def request_stop(self, signame: str) -> None:
        if self.stopping.is_set():
            logger.info("%s again: still waiting for %d crawl(s) to end", signame, len(self.crawls))
            return
        logger.info("%s: stopping after %d running crawl(s)", signame, len(self.crawls))
        self.stopping.set()

    async def _stop(self) -> None:
        self.scheduler.pause()
        while self.crawls:
            for crawl in list(self.crawls.values()):
                crawl.request_stop(STOPPING)
            await asyncio.wait([asyncio.ensure_future(c.done.wait()) for c in self.crawls.values()])
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler.shutdown runs in a loop callback
        logger.info("followup daemon stopped")

    # Scheduling ----------------------------------------------------------------------------

    def _schedule_sources(self) -> None:
        assert self.store is not None
        gone = forget_other_sources(self.store.db, list(self.sources))
        if gone:
            logger.info("forgot the state of %s: no longer in sources.toml", ", ".join(gone))
        stored = get_source_states(self.store.db)
        now = utcnow()
        for source in self.seeds.sources:
            state = first_run(stored.get(source.id), source, now=now)
            self._save(state)
            self.scheduler.add_job(
                self.poll,
                IntervalTrigger(seconds=source.polling_bounds[1].total_seconds()),
                args=[source.id],
                id=source.id,
                name=f"poll {source.id}",
                next_run_time=state.next_run_at,
            )
        self.scheduler.add_job(
            self.prune, IntervalTrigger(seconds=PRUNE_EVERY.total_seconds()), next_run_time=now
        )
        if self.options.notify:
            self.scheduler.add_job(
                self.notify,
                IntervalTrigger(seconds=NOTIFY_EVERY.total_seconds()),
                next_run_time=now,
            )

    async def poll(self, source_id: str) -> None:
        """The job of one source: one crawl, then the source's next run planned."""
        if self.stopping.is_set() or source_id in self.crawls:
            return
        crawl = Crawl(source_id)
        self.crawls[source_id] = crawl
        # Paused while it runs: the trigger never fires into a running crawl.
        self.scheduler.pause_job(source_id)
        state = self.states[source_id]
        try:
            state = await self._crawl(crawl, self.sources[source_id], state)
        except Exception:
            logger.exception("%s: the daemon failed to run its crawl", source_id)
            state = replace(state, next_run_at=utcnow() + state.interval)
        finally:
            del self.crawls[source_id]
            crawl.done.set()
        self._save(state)
        if not self.stopping.is_set():
            self.scheduler.modify_job(source_id, next_run_time=state.next_run_at)
            await self.notify()

    async def _crawl(self, crawl: Crawl, source: Source, state: SourceState) -> SourceState:
        lock = Lock.take(self.options.lock_dir / f"source-{source.id}.lock")
        if lock is None:
            retry = min(BUSY_RETRY, state.interval)
            logger.warning(
                "%s: an earlier crawl still runs (a daemon was killed?); trying again in %s",
                source.id,
                format_duration(retry),
            )
            return replace(state, next_run_at=utcnow() + retry)
        if crawl.stop_requested.is_set():  # the daemon began stopping meanwhile
            lock.release()
            return replace(state, next_run_at=utcnow())
        try:
            process = await asyncio.create_subprocess_exec(
                *self.options.crawl_command(source.id),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                pass_fds=(lock.fileno(),),
            )
            crawl.attach(process)
            stdout, stderr = await crawl.wait(
                timeout=self.options.timeout, grace=self.options.grace
            )
        finally:
            lock.release()
        assert process.returncode is not None
        report = read_run(
            source.id,
            process.returncode,
            stdout.decode("utf-8", "replace"),
            stderr.decode("utf-8", "replace"),
            stop_reason=crawl.stop_reason,
        )
        new_state = after_run(state, report, source, now=utcnow())
        _log_run(source.id, report, new_state, stderr.decode("utf-8", "replace"))
        return new_state

    def _save(self, state: SourceState) -> None:
        """Keep a source's state; one that cannot be written (a full disk) is kept in memory,
        and polling goes on: a source must never stop being polled for good."""
        assert self.store is not None
        self.states[state.source] = state
        try:
            save_source_state(self.store.db, state)
        except sqlite3.DatabaseError as exc:
            self._store_failed(f"{state.source}: its state was not saved", exc)

    def _store_failed(self, what: str, exc: sqlite3.DatabaseError) -> None:
        logger.error("%s: %s", what, describe_store_error(self.options.db_path, exc))

    async def notify(self) -> None:
        """Send what is due, in a thread (Apprise blocks); a request while a round runs makes
        that round go once more, so rows stored meanwhile are not left for a minute."""
        if not self.options.notify:
            return
        if self.notifying:
            self.notify_again = True
            return
        self.notifying = True
        try:
            while True:
                self.notify_again = False
                await asyncio.to_thread(self._notify_round)
                if not self.notify_again or self.stopping.is_set():
                    break
        finally:
            self.notifying = False

    def _notify_round(self) -> None:
        from crawler.notify.sender import SenderBusy, send_pending

        try:
            result = send_pending(self.options.db_path, self.options.notify)
        except SenderBusy as exc:
            logger.warning("notify: %s", exc)
            return
        except Exception:
            logger.exception("sending notifications failed; they stay pending")
            return
        if result.counts:
            logger.info("notify: %s", result.describe())

    async def prune(self) -> None:
        """Forget old `seen` rows and validators (daily)."""
        assert self.store is not None
        before = utcnow() - self.options.prune_after
        try:
            seen = self.store.prune_seen(before=before)
            validators = self.store.prune_validators(before=before)
        except sqlite3.DatabaseError as exc:
            self._store_failed("pruning failed", exc)
            return
        logger.info(
            "pruned %d seen URL(s) and %d validator(s) older than %s",
            seen,
            validators,
            format_duration(self.options.prune_after),
        )


def _log_run(source_id: str, report: RunReport, state: SourceState, stderr: str) -> None:
    wait = _until(state.next_run_at)
    if report.interrupted:
        logger.info("%s: crawl stopped with the daemon", source_id)
    elif report.ok:
        figures = report.figures or {}
        logger.info(
            "%s: %d entries, %d new, %d duplicates, %d unrelated, %d blocked or failed, "
            "%d revised, %d unchanged list(s); next in %s",
            source_id,
            figures.get("entries", 0),
            figures.get("new", 0),
            figures.get("duplicates", 0),
            figures.get("irrelevant", 0),
            figures.get("blocked", 0) + figures.get("failed", 0),
            figures.get("revised", 0),
            figures.get("not_modified", 0),
            wait,
        )
    else:
        logger.warning(
            "%s: crawl failed (%d in a row): %s; next try in %s",
            source_id,
            state.consecutive_failures,
            report.error,
            wait,
        )
    for line in stderr.splitlines():
        logger.debug("%s | %s", source_id, line)


def _until(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return format_duration(max(moment - utcnow(), timedelta(seconds=1)))


def configure_logging(*, log_file: Path | None, verbose: bool) -> None:
    """Log to stderr, or append to a file that may be rotated under us (logrotate)."""
    handler: logging.Handler = (
        logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")
        if log_file
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # APScheduler logs every job start and end at INFO; our own lines say what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Apprise logs each message sent at INFO; the daemon logs one line per round.
    logging.getLogger("apprise").setLevel(logging.WARNING)


def run_daemon(seeds: Seeds, options: DaemonOptions) -> None:
    """Run the daemon until it is stopped by a signal. Raises DaemonError if it cannot start."""
    asyncio.run(Daemon(seeds, options).run())
