"""`followup daemon`: every source polled on its own schedule, crawled by worker processes.

A plain asyncio program. APScheduler's AsyncIOScheduler runs one `async def` job per source
(max_instances=1, coalesce=True); the job waits for one of --max-crawls slots, hands the
source to a long-lived worker (`python -m crawler worker`, crawler/worker.py: one Scrapy
process running many crawls, so a poll costs no process start), waits for the crawl's report
with a timeout, and plans the source's next run from it (crawler/polling.py). A Twisted
reactor cannot run in this process beside asyncio's loop, so crawls never run here. Workers
are recycled after --recycle-after crawls or above --recycle-above MB, giving their memory
back. `--workers 0` runs each crawl as a child `python -m crawler crawl --source ID --json`
instead, as before. A source with a crawl node (nodes.toml) is polled as a Scrapyd job on that
node instead (NodeCrawl, crawler/nodes.py), outside the --max-crawls slots: it runs on the
node's CPU.

Locks (crawler/locks.py, chosen by --db): one daemon per SQLite file (per machine and seeds
directory on PostgreSQL), one crawl of a source at a time, held by the crawling process, so
daemons on several machines may share a PostgreSQL store.

A PostgreSQL server that restarts (an upgrade, a failover, a crash) is ridden through: the
daemon's own session reconnects (crawler/postgres.py), its single-instance lock is checked
before each poll and taken again (or the daemon exits, when another took it meanwhile), crawls
caught by the restart fail and back off as any failure, and while the server is down each poll
logs its one failed-crawl line: the daemon keeps trying for ever, at each source's backoff
(capped at its max_every), and resumes by itself once the server answers.

Stopping (SIGTERM, SIGINT): pause the scheduler, ask each running crawl to stop exactly once
(a worker message, or a child's SIGTERM: Scrapy takes a second one as "forcing unclean
shutdown"), wait for them, SIGKILL after --grace, shut down.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import signal
import sqlite3
import sys
from asyncio import FIRST_COMPLETED
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from crawler.config import Seeds, Source
from crawler.dates import format_duration, utcnow
from crawler.locks import BUSY_EXIT, Held, open_locks
from crawler.nodes import (
    NodeError,
    ScrapydClient,
    crawl_settings,
    get_last_run_id,
    get_node_run,
    get_unfinished_job,
    schedule_crawl,
    watch_job,
)
from crawler.notify.targets import Target
from crawler.polling import (
    STOPPING,
    RunReport,
    after_run,
    first_run,
    read_node_run,
    read_run,
)
from crawler.postgres import PgDatabase, is_postgres_url, mask_url
from crawler.state import (
    SourceState,
    forget_other_sources,
    get_source_states,
    save_source_state,
)
from crawler.store import Store, StoreError, describe_store_error, open_store
from crawler.worker_protocol import (
    CrawlReport,
    ProtocolError,
    encode_crawl,
    encode_stop,
    parse_report,
)

logger = logging.getLogger(__name__)

# A source whose earlier crawl still runs (another daemon's on a shared PostgreSQL store, or one
# left behind by a daemon killed with -9) is tried
# again this soon, or at its own interval if that is shorter.
BUSY_RETRY = timedelta(seconds=30)
PRUNE_EVERY = timedelta(days=1)
# Notifications are sent after each crawl, and this often besides: digests fall due and
# failed deliveries are retried at their time, crawl or no crawl.
NOTIFY_EVERY = timedelta(minutes=1)
T = TypeVar("T")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class DaemonError(RuntimeError):
    """A daemon that cannot start, or must end: another one polls this database."""


def default_max_crawls(cpus: int | None = None) -> int:
    """Crawls at once: two per core (a crawl mostly waits on polite delays and the network)."""
    return 2 * max(cpus or os.cpu_count() or 1, 1)


def default_workers(cpus: int | None = None) -> int:
    """Worker processes: one per core (a worker's crawls share one Python thread)."""
    return max(cpus or os.cpu_count() or 1, 1)


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    """How the daemon runs its crawls."""

    seeds_dir: Path
    db_path: Path | str  # a SQLite file, or a postgresql:// URL
    timeout: timedelta = timedelta(minutes=20)  # a crawl running longer is ended
    grace: timedelta = timedelta(seconds=45)  # between its stop request and SIGKILL
    prune_after: timedelta = timedelta(days=90)  # `seen` rows not stored and old runs go then
    crawl_args: tuple[str, ...] = ()  # more arguments for each crawl (-s NAME=VALUE, -v)
    notify: tuple[Target, ...] = ()  # notify.toml: the daemon is their one sender
    python: str = field(default_factory=lambda: sys.executable)
    max_crawls: int = field(default_factory=default_max_crawls)  # at once, all workers
    workers: int = field(default_factory=default_workers)  # 0: a child process per crawl
    recycle_after: int = 200  # crawls a worker runs before it is replaced
    recycle_above_mb: int = 300  # a worker this large after a crawl is replaced

    @property
    def where(self) -> str:
        """The store, for the log (a URL without its password)."""
        return mask_url(str(self.db_path)) if is_postgres_url(self.db_path) else str(self.db_path)

    def crawl_command(self, source_id: str) -> list[str]:
        return [
            *self._followup("crawl"),
            *("--source", source_id, "--json", "--hold-locks"),
            # Crawls queue notifications; the daemon sends them (one sender, no races).
            "--no-notify",
            *self.crawl_args,
        ]

    @property
    def settings(self) -> dict[str, str]:
        """The -s NAME=VALUE of crawl_args, for crawls that take settings, not arguments (a
        node's Scrapyd job)."""
        pairs = zip(self.crawl_args, self.crawl_args[1:], strict=False)
        return dict(value.split("=", 1) for flag, value in pairs if flag == "-s")

    def worker_command(self) -> list[str]:
        return [*self._followup("worker"), *self.crawl_args]

    def _followup(self, command: str) -> list[str]:
        return [
            *(self.python, "-m", "crawler", command),
            *("--seeds", str(self.seeds_dir), "--db", str(self.db_path)),
        ]


class Crawl:
    """One running crawl; asked to stop exactly once, whoever asks, and killed if it won't."""

    local = True  # runs on this machine: takes one of --max-crawls

    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        self.stop_reason: str | None = None
        self.stop_requested = asyncio.Event()
        self.done = asyncio.Event()
        self._started = False
        self._signalled = False

    def request_stop(self, reason: str) -> None:
        """End the crawl gracefully (asked once, however often this is called)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_requested.set()
        if self._started and not self._signalled:
            self._signalled = True
            self._ask_stop()

    def _begin(self) -> None:
        self._started = True
        if self.stop_requested.is_set():
            self._signalled = True
            self._ask_stop()

    def _ask_stop(self) -> None:
        raise NotImplementedError

    def kill(self) -> None:
        raise NotImplementedError

    async def settle(
        self, outcome: asyncio.Future[T], *, timeout: timedelta, grace: timedelta
    ) -> T:
        """The crawl's outcome once it ends: by itself, at a stop request, at the timeout, or
        killed --grace after it was asked to stop."""
        stop = asyncio.ensure_future(self.stop_requested.wait())
        either: set[asyncio.Future[Any]] = {outcome, stop}
        try:
            await asyncio.wait(either, timeout=timeout.total_seconds(), return_when=FIRST_COMPLETED)
            if not outcome.done():
                self.request_stop(f"timed out after {format_duration(timeout)}")
                await asyncio.wait({outcome}, timeout=grace.total_seconds())
            if not outcome.done():
                logger.error(
                    "%s: crawl still running %s after it was asked to stop; killing it",
                    self.source_id,
                    format_duration(grace),
                )
                self.kill()
            return await outcome
        finally:
            stop.cancel()


class ChildCrawl(Crawl):
    """A crawl run as a child `python -m crawler crawl --source ID --json` (--workers 0)."""

    process: asyncio.subprocess.Process | None = None

    def attach(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._begin()

    def _ask_stop(self) -> None:
        process = self.process
        if process is not None and process.returncode is None:
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


class WorkerCrawl(Crawl):
    """A crawl run by a worker process; its report arrives as one line of the worker's output."""

    worker: Worker | None = None

    def __init__(self, source_id: str) -> None:
        super().__init__(source_id)
        self.report: asyncio.Future[CrawlReport] = asyncio.get_running_loop().create_future()

    def attach(self, worker: Worker) -> None:
        self.worker = worker
        self._begin()

    def finish(self, report: CrawlReport) -> None:
        if not self.report.done():
            self.report.set_result(report)

    def _ask_stop(self) -> None:
        if self.worker is not None:
            self.worker.send(encode_stop(self.source_id, self.stop_reason or STOPPING))

    def kill(self) -> None:
        """SIGKILL to the worker: its other crawls are lost too (and rescheduled soon)."""
        if self.worker is not None:
            self.worker.kill()


class NodeCrawl(Crawl):
    """A crawl run as a Scrapyd job on the source's node (crawler/nodes.py): a thread watches
    the job and cancels it with the signal this crawl asks for (SIGINT to stop, then SIGKILL)."""

    job_id: str | None = None
    local = False

    def __init__(self, source_id: str, client: ScrapydClient) -> None:
        super().__init__(source_id)
        self.client = client
        self._signal: str | None = None  # read by the watching thread

    def attach(self, job_id: str) -> None:
        self.job_id = job_id
        self._begin()

    def signal(self) -> str | None:
        """The cancel signal the job is due: None, "INT" or "KILL"."""
        return self._signal

    def _ask_stop(self) -> None:
        self._signal = "INT"
        logger.info(
            "%s: stopping its job %s on node %s: %s",
            self.source_id,
            self.job_id,
            self.client.node.id,
            self.stop_reason,
        )

    def kill(self) -> None:
        """SIGKILL to the job, through its node."""
        self._signal = "KILL"


class Worker:
    """One `python -m crawler worker` process and the crawls it runs now."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.crawls: dict[str, WorkerCrawl] = {}
        self.started = 0  # crawls handed to it, ever
        self.retiring = False  # takes no more crawls; its input is closed once it is idle
        self.ended = asyncio.Event()

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self, crawl: WorkerCrawl) -> None:
        self.crawls[crawl.source_id] = crawl
        self.started += 1
        self.send(encode_crawl(crawl.source_id))
        crawl.attach(self)

    def send(self, line: bytes) -> None:
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing() and self.process.returncode is None:
            stdin.write(line)

    def retire(self) -> None:
        """No more crawls; the worker ends by itself once the running ones are done."""
        self.retiring = True
        if not self.crawls and self.process.stdin is not None:
            self.process.stdin.close()

    def kill(self) -> None:
        if self.process.returncode is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    async def read_reports(self, *, on_report: Callable[[Worker, CrawlReport], None]) -> None:
        """Hand each report to its crawl until the worker's output ends; then its crawls still
        running are lost (the worker died: killed, out of memory)."""
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            try:
                report = parse_report(line)
            except ProtocolError as exc:
                logger.warning("worker %d: %s", self.pid, exc)
                continue
            if crawl := self.crawls.pop(report.source, None):
                crawl.finish(report)
                on_report(self, report)
        returncode = await self.process.wait()
        for crawl in self.crawls.values():
            crawl.finish(lost_report(crawl.source_id, self.pid, returncode))
        self.crawls.clear()
        self.ended.set()

    async def log_stderr(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            logger.debug("worker %d | %s", self.pid, line.decode("utf-8", "replace").rstrip())


def lost_report(source_id: str, pid: int, returncode: int) -> CrawlReport:
    """What a crawl whose worker died under it reports: nothing but how the worker ended."""
    ended = f"killed by signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
    error = f"its worker (pid {pid}) ended mid-crawl: {ended}"
    return CrawlReport(source_id, returncode=returncode or 1, errors=(error,), lost=True)


class WorkerPool:
    """Up to --workers worker processes, started as crawls need them, recycled as they age."""

    def __init__(self, options: DaemonOptions) -> None:
        self.options = options
        self.workers: list[Worker] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.choosing = asyncio.Lock()

    async def start(self, crawl: WorkerCrawl) -> None:
        """Hand the crawl to the least busy worker with room, starting one if none has."""
        worker = await self._worker_with_room()
        logger.debug("handing %s to worker %d", crawl.source_id, worker.pid)
        worker.start(crawl)
        if worker.started >= self.options.recycle_after:
            worker.retire()

    async def _worker_with_room(self) -> Worker:
        async with self.choosing:  # one at a time: two due sources must not start two workers
            return await self._choose_worker()

    async def _choose_worker(self) -> Worker:
        live = [w for w in self.workers if not w.retiring and w.process.returncode is None]
        per_worker = -(-self.options.max_crawls // max(self.options.workers, 1))
        roomy = [w for w in live if len(w.crawls) < per_worker]
        if roomy:
            return min(roomy, key=lambda w: len(w.crawls))
        if live and len(live) >= self.options.workers:
            return min(live, key=lambda w: len(w.crawls))
        return await self._spawn()

    async def _spawn(self) -> Worker:
        process = await asyncio.create_subprocess_exec(
            *self.options.worker_command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        worker = Worker(process)
        self.workers.append(worker)
        logger.info("worker %d started", worker.pid)
        for coroutine in (worker.read_reports(on_report=self._reported), worker.log_stderr()):
            task = asyncio.ensure_future(coroutine)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        task = asyncio.ensure_future(self._forget(worker))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return worker

    async def _forget(self, worker: Worker) -> None:
        await worker.ended.wait()
        self.workers.remove(worker)
        logger.info("worker %d ended (exit status %s)", worker.pid, worker.process.returncode)

    def _reported(self, worker: Worker, report: CrawlReport) -> None:
        if report.rss_mb > self.options.recycle_above_mb and not worker.retiring:
            logger.info(
                "worker %d: %.0f MB after %d crawl(s); recycling it",
                worker.pid,
                report.rss_mb,
                worker.started,
            )
            worker.retire()
        elif worker.retiring:
            worker.retire()  # closes its input once its last crawl has reported

    async def close(self, *, grace: timedelta) -> None:
        """End every worker: input closed (they end once idle), SIGKILL after grace."""
        for worker in list(self.workers):
            worker.retire()
        ended = [asyncio.ensure_future(w.ended.wait()) for w in self.workers]
        if ended:
            await asyncio.wait(ended, timeout=grace.total_seconds())
        for worker in list(self.workers):
            worker.kill()
        if self.tasks:
            await asyncio.wait(set(self.tasks))


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
        self.locks = open_locks(options.db_path)  # one daemon; a crawl of a source at a time
        # Crawls at once, whichever way they run; workers when there are any.
        self.slots = asyncio.Semaphore(options.max_crawls)
        self.pool = WorkerPool(options) if options.workers > 0 else None
        self.clients = {node.id: ScrapydClient(node) for node in seeds.nodes}
        # One thread per node source at most (each watches its one job; a source never has two).
        on_nodes = sum(source.node is not None for source in seeds.sources)
        self.watchers = ThreadPoolExecutor(max(on_nodes, 1), thread_name_prefix="node-job")
        self.notifying = False
        self.notify_again = False
        self.daemon_lock: Held | None = None
        self.checking_lock = asyncio.Lock()  # one look at the daemon lock at a time
        self.ended_by: DaemonError | None = None  # another daemon took the lock meanwhile
        self.store_down = False  # a store failure was logged; later ones are not, until it answers

    @property
    def scope(self) -> str:
        """What the daemon lock is taken for: the seeds directory."""
        return str(self.options.seeds_dir)

    async def run(self) -> None:
        """Poll until SIGTERM or SIGINT, then stop cleanly."""
        try:
            lock = self.locks.take_daemon(self.scope)
        except sqlite3.DatabaseError as exc:
            raise DaemonError(describe_store_error(self.options.db_path, exc)) from None
        if lock is None:
            raise self._another_daemon()
        self.daemon_lock = lock
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, signal.Signals(signum).name)
        try:
            self.store = open_store(self.options.db_path)  # migrated before any crawl starts
            if isinstance(self.store.db, PgDatabase):
                self.store.db.reconnects = True  # rides through a server restart
            self._schedule_sources()
            self.scheduler.start()
            logger.info(
                "followup daemon (pid %d): polling %s into %s",
                os.getpid(),
                ", ".join(self.sources),
                self.options.where,
            )
            await self.stopping.wait()
            await self._stop()
        finally:
            if self.store is not None:
                self._close_store()
            self.daemon_lock.release()
        if self.ended_by is not None:
            raise self.ended_by

    def _another_daemon(self) -> DaemonError:
        """The refusal naming the daemon that holds the lock (a database that cannot say: ?)."""
        try:
            holder = self.locks.describe_daemon(self.scope)
        except sqlite3.DatabaseError:
            holder = "?"
        return DaemonError(
            f"another followup daemon ({holder}) is polling {self.options.where}; "
            "stop it first, or use another --db"
        )

    def _close_store(self) -> None:
        assert self.store is not None
        try:
            self.store.close()
        except sqlite3.DatabaseError as exc:  # a server down as the daemon stops
            self._store_failed("closing the store failed", exc)

    async def _keep_daemon_lock(self) -> bool:
        """Whether this daemon still holds its lock, taken again if its session was lost (a
        server restart); False, and the daemon stopping, when another daemon took it meanwhile.
        A store that cannot be reached keeps the old answer: the crawl reports that itself."""
        async with self.checking_lock:
            if self.ended_by is not None:
                return False
            assert self.daemon_lock is not None
            if await asyncio.to_thread(self.daemon_lock.held):
                return True
            try:
                lock = await asyncio.to_thread(self.locks.take_daemon, self.scope)
            except sqlite3.DatabaseError as exc:
                logger.debug("the daemon lock cannot be taken again yet: %s", exc)
                return True
            if lock is None:
                self.ended_by = await asyncio.to_thread(self._another_daemon)
                logger.error("%s", self.ended_by)
                self.stopping.set()
                return False
            self.daemon_lock = lock
            logger.info("the daemon lock was lost with its session; taken again")
            return True

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
        if self.pool is not None:
            await self.pool.close(grace=self.options.grace)
        self.watchers.shutdown()  # each watch ended with its crawl
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
        if not await self._keep_daemon_lock():
            return
        crawl = self._new_crawl(self.sources[source_id])
        self.crawls[source_id] = crawl
        # Paused while it runs: the trigger never fires into a running crawl.
        self.scheduler.pause_job(source_id)
        state = self.states[source_id]
        try:
            async with self._slot(crawl):  # a due source may wait here for its turn
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

    def _new_crawl(self, source: Source) -> Crawl:
        if source.node is not None:
            return NodeCrawl(source.id, self.clients[source.node])
        return WorkerCrawl(source.id) if self.pool else ChildCrawl(source.id)

    def _slot(self, crawl: Crawl) -> AbstractAsyncContextManager[Any]:
        """--max-crawls caps the crawls on this machine; a node's jobs use the node's CPU (its
        Scrapyd's max_proc caps them there) and never wait behind local crawls."""
        return self.slots if crawl.local else nullcontext()

    async def _crawl(self, crawl: Crawl, source: Source, state: SourceState) -> SourceState:
        if crawl.stop_requested.is_set():  # the daemon began stopping while it waited
            return replace(state, next_run_at=utcnow())
        if isinstance(crawl, NodeCrawl):
            report, log = await self._run_locked_on_node(crawl, source)
        else:
            report, log = await self._run_here(crawl, source)
        if report is None:
            retry = min(BUSY_RETRY, state.interval)
            logger.warning(
                "%s: an earlier crawl still runs (another daemon's, or one a daemon killed with -9 "
                "left); trying again in %s",
                source.id,
                format_duration(retry),
            )
            return replace(state, next_run_at=utcnow() + retry)
        new_state = after_run(state, report, source, now=utcnow())
        _log_run(source.id, report, new_state, log)
        return new_state

    async def _run_here(self, crawl: Crawl, source: Source) -> tuple[RunReport | None, str]:
        """Crawl in a worker or child process: its report (None: busy) and its log."""
        if isinstance(crawl, WorkerCrawl):
            outcome = await self._run_in_worker(crawl)
        else:
            assert isinstance(crawl, ChildCrawl)
            outcome = await self._run_child(crawl, source)
        if outcome.busy:
            return None, ""
        if outcome.lost and crawl.stop_reason is None:
            return RunReport(error=outcome.stderr, lost=True), outcome.stderr
        report = read_run(
            source.id,
            outcome.returncode,
            outcome.stdout,
            outcome.stderr,
            stop_reason=crawl.stop_reason,
        )
        return report, outcome.stderr

    async def _run_locked_on_node(
        self, crawl: NodeCrawl, source: Source
    ) -> tuple[RunReport | None, str]:
        """A node's job under its source's lock, held here (the job runs in no process of
        ours): two daemons sharing a store never run jobs of one source at once."""
        try:
            lock = await asyncio.to_thread(self.locks.take_source, source.id)
        except sqlite3.DatabaseError as exc:
            return RunReport(error=describe_store_error(self.options.db_path, exc)), ""
        if lock is None:
            return None, ""
        try:
            return await self._run_on_node(crawl, source)
        finally:
            lock.release()

    async def _run_on_node(self, crawl: NodeCrawl, source: Source) -> tuple[RunReport | None, str]:
        """Crawl as a job on the source's node: its report (None: a job of the source still
        runs there) and the end of the job's log. A node down or refusing is a failure."""
        client, db = crawl.client, self.options.db_path
        where = crawl_settings(client.node, seeds_dir=self.options.seeds_dir, db=db)
        settings = {**self.options.settings, **where}
        try:
            if await asyncio.to_thread(get_unfinished_job, client, source.id):
                return None, ""
            after = await asyncio.to_thread(get_last_run_id, db)
            job_id = await asyncio.to_thread(
                schedule_crawl, client, source.id, settings=settings, now=utcnow()
            )
        except NodeError as exc:
            return RunReport(error=str(exc)), ""
        logger.info("%s: job %s scheduled on node %s", source.id, job_id, client.node.id)
        crawl.attach(job_id)
        error = await self._watch(crawl, job_id)
        run = await asyncio.to_thread(
            get_node_run, db, client.node, source.id, job_id, after=after, error=error
        )
        clean = crawl.stop_reason is None and run.ok
        log = "" if clean else await asyncio.to_thread(client.get_log_tail, job_id)
        report = read_node_run(
            source.id,
            run.stats,
            run_id=run.run_id,
            error=run.error,
            log=log,
            stop_reason=crawl.stop_reason,
        )
        return report, log

    async def _watch(self, crawl: NodeCrawl, job_id: str) -> str | None:
        """Wait for the job (cancelled at --timeout or the daemon's stop); a node error, or None."""
        watching = asyncio.get_running_loop().run_in_executor(
            self.watchers, lambda: watch_job(crawl.client, job_id, signal=crawl.signal)
        )
        try:
            await crawl.settle(watching, timeout=self.options.timeout, grace=self.options.grace)
        except NodeError as exc:
            return str(exc)
        return None

    async def _run_in_worker(self, crawl: WorkerCrawl) -> CrawlReport:
        assert self.pool is not None
        await self.pool.start(crawl)
        return await crawl.settle(
            crawl.report, timeout=self.options.timeout, grace=self.options.grace
        )

    async def _run_child(self, crawl: ChildCrawl, source: Source) -> CrawlReport:
        """The child holds its source's lock itself (`crawl --hold-locks`), so a child left
        running by a daemon killed with -9 still holds it; BUSY_EXIT: another held it. A lock
        already held is seen here first, so no process starts only to find it busy."""
        if not await asyncio.to_thread(self._lock_free, source.id):
            return CrawlReport(source.id, busy=True)
        process = await asyncio.create_subprocess_exec(
            *self.options.crawl_command(source.id),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        crawl.attach(process)
        output = asyncio.ensure_future(process.communicate())
        stdout, stderr = await crawl.settle(
            output, timeout=self.options.timeout, grace=self.options.grace
        )
        assert process.returncode is not None
        if process.returncode == BUSY_EXIT:
            return CrawlReport(source.id, busy=True)
        return CrawlReport(
            source.id,
            returncode=process.returncode,
            output=stdout.decode("utf-8", "replace"),
            log=stderr.decode("utf-8", "replace"),
        )

    def _lock_free(self, source_id: str) -> bool:
        """Whether no process holds the source's lock now (a store that cannot say: let the
        crawl find out, and fail, itself)."""
        try:
            lock = self.locks.take_source(source_id)
        except sqlite3.DatabaseError:
            return True
        if lock is None:
            return False
        lock.release()
        return True

    def _save(self, state: SourceState) -> None:
        """Keep a source's state; one that cannot be written (a full disk) is kept in memory,
        and polling goes on: a source must never stop being polled for good."""
        assert self.store is not None
        self.states[state.source] = state
        try:
            save_source_state(self.store.db, state)
        except sqlite3.DatabaseError as exc:
            self._store_failed(f"{state.source}: its state was not saved", exc)
        else:
            self._store_answers()

    def _store_failed(self, what: str, exc: sqlite3.DatabaseError | StoreError) -> None:
        """One line for the first failure of the store, not one per source and poll after it:
        while it lasts each poll's failed crawl says so."""
        if self.store_down:
            logger.debug("%s: %s", what, exc)
            return
        self.store_down = True
        if is_postgres_url(self.options.db_path):
            logger.error(
                "%s: %s failed (%s); polling goes on, each source tried again at its backoff, "
                "and states are saved once the server answers",
                what,
                self.options.where,
                exc,
            )
        elif isinstance(exc, sqlite3.Error):
            logger.error("%s: %s", what, describe_store_error(self.options.db_path, exc))
        else:
            logger.error("%s: %s", what, exc)

    def _store_answers(self) -> None:
        if self.store_down:
            self.store_down = False
            logger.info("%s answers again", self.options.where)

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
        except (sqlite3.DatabaseError, StoreError) as exc:
            self._store_failed("notify: nothing sent, all stays pending", exc)
            return
        except Exception:
            logger.exception("sending notifications failed; they stay pending")
            return
        if result.counts:
            logger.info("notify: %s", result.describe())

    async def prune(self) -> None:
        """Forget old `seen` rows, validators and crawl runs (daily)."""
        assert self.store is not None
        before = utcnow() - self.options.prune_after
        try:
            seen = self.store.prune_seen(before=before)
            validators = self.store.prune_validators(before=before)
            runs = self.store.prune_runs(before=before)
        except sqlite3.DatabaseError as exc:
            self._store_failed("pruning failed", exc)
            return
        self._store_answers()
        logger.info(
            "pruned %d seen URL(s), %d validator(s) and %d crawl run(s) older than %s",
            seen,
            validators,
            runs,
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
