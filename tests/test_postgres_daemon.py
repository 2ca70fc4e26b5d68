"""`followup daemon --db postgresql://…` (README "The daemon on PostgreSQL"): real daemons on the real PostgreSQL server
(tests/services.py), crawling the local web; a source on a real Scrapyd node.

Per-source locks are session advisory locks in the store's database (crawler/locks.py), held
by the crawling process: two daemons sharing the store (as two machines would) take turns, and
the locks of a killed process die with its session. Held pages (Mirror.hold) make overlaps
deterministic; every wait is on a condition with a generous ceiling; every daemon, worker and
Scrapyd is reaped.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from crawler.changes import Validators
from crawler.config import load_seeds
from crawler.dates import from_iso, to_iso
from crawler.locks import BUSY_EXIT, PgLocks, advisory_key, open_locks
from crawler.mirror import Mirror
from crawler.store import open_store
from crawler.worker import Worker
from crawler.worker_protocol import parse_report
from tests.helpers import (
    WAIT_CEILING,
    reaped,
    refused_port,
    setting_args,
    start_followup_daemon,
    wait_until,
    write_seeds,
)
from tests.notify_receivers import readme_section
from tests.pg import pg_rows, pg_url  # noqa: F401 (a fixture)
from tests.services import postgres, running_scrapyd  # noqa: F401 (a fixture)
from tests.test_daemon import DAILY, SLOW_PAGES, SOURCES, logged
from tests.test_daemon_nodes import NEWS_ON_NODE
from tests.test_postgres_store import crawled_alone, stories

NEWS = SOURCES.split('[[source]]\nid = "broken"')[0]  # polled every 1-2 s
NEWS_AND_DAILY = NEWS + DAILY  # they carry a common story: one stored, one duplicate
OLD = datetime(2020, 1, 1, tzinfo=UTC)
OLD_URL = "https://gone.example.com/2020/old.html"


def start_daemon(seeds: Path, url: str, log: Path, *args: str) -> subprocess.Popen[str]:
    """The daemon on the PostgreSQL store, its crawls in one worker process."""
    return start_followup_daemon(seeds, url, log, "--workers", "1", *args)


def finished_runs(url: str, source: str) -> list[tuple[datetime, datetime, str | None]]:
    """(started, finished, job) of the source's finished crawls, oldest first."""
    rows = pg_rows(
        url,
        "SELECT started_at, finished_at, job FROM crawl_runs WHERE sources = %s "
        "AND finished_at IS NOT NULL ORDER BY started_at",
        f'["{source}"]',
    )
    return [(from_iso(start), from_iso(end), job) for start, end, job in rows]


def polled_twice(url: str, *sources: str) -> bool:
    return all(len(finished_runs(url, source)) >= 2 for source in sources)


def stop(daemon: subprocess.Popen[str], log: Path) -> None:
    daemon.send_signal(signal.SIGTERM)
    _, stderr = daemon.communicate(timeout=WAIT_CEILING)
    assert daemon.returncode == 0, stderr + logged(log)


def advisory_locks(url: str) -> list[tuple[object, ...]]:
    """The advisory locks held in the store's database (the server holds other tests' too)."""
    return pg_rows(
        url,
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
    )


def assert_readme_log(text: str, heading: str) -> None:
    """Each line of the README's first ```log block under this heading, its figures (times,
    ports, counts) left open, is a line of this run's log."""
    section = readme_section("## A shared PostgreSQL store")
    block = re.search(rf"\n{re.escape(heading)}\n.*?```log\n(.*?)```", section, re.S)
    assert block, f"no log block under {heading!r} in README.md"
    lines = text.splitlines()
    for shown in block[1].splitlines():
        pattern = re.compile(re.sub(r"\d+", r"\\d+", re.escape(shown)))
        assert any(pattern.fullmatch(line) for line in lines), f"README line not logged: {shown}"


def source_locked(url: str, source: str) -> bool:
    """Whether a session holds the source's lock (a one-part key: its halves, objsubid 1)."""
    key = advisory_key("source", source) & 0xFFFFFFFFFFFFFFFF
    rows = pg_rows(
        url,
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        "AND classid::bigint = %s AND objid::bigint = %s",
        key >> 32,
        key & 0xFFFFFFFF,
    )
    return bool(rows)


@contextlib.contextmanager
def killed_at_end(*pids: int) -> Iterator[None]:
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


# The locks themselves, in process ----------------------------------------------------------


def test_source_and_daemon_locks_are_advisory_locks_held_by_their_session(
    pg_url: str,  # noqa: F811
) -> None:
    locks, other = open_locks(pg_url), open_locks(pg_url)  # two processes, as it were
    assert isinstance(locks, PgLocks)
    news = locks.take_source("news")
    assert news is not None
    try:
        assert source_locked(pg_url, "news") and not source_locked(pg_url, "daily")
        assert other.take_source("news") is None  # one crawl of a source at a time
        daily = other.take_source("daily")  # another source is free
        assert daily is not None
        daily.release()
    finally:
        news.release()
    again = other.take_source("news")  # released with its session
    assert again is not None
    again.release()

    first = locks.take_daemon("/srv/seeds")
    assert first is not None
    try:
        assert other.take_daemon("/srv/seeds") is None
        assert other.describe_daemon("/srv/seeds") == f"pid {os.getpid()} on {os.uname().nodename}"
        elsewhere = other.take_daemon("/srv/other-seeds")  # another configuration may run
        assert elsewhere is not None
        elsewhere.release()
    finally:
        first.release()
    assert advisory_locks(pg_url) == []


def test_a_second_daemon_of_the_same_seeds_on_one_machine_is_refused(
    web: Mirror,
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, DAILY)
    log = tmp_path / "first.log"
    with reaped(start_daemon(seeds, pg_url, log)) as first:
        wait_until(lambda: "followup daemon (pid" in logged(log), "the first daemon")
        with reaped(start_daemon(seeds, pg_url, tmp_path / "second.log")) as second:
            _, stderr = second.communicate(timeout=WAIT_CEILING)
        assert second.returncode == 2, stderr
        host = os.uname().nodename
        assert f"another followup daemon (pid {first.pid} on {host}) is polling" in stderr
        assert stderr.count("\n") == 1 and "Traceback" not in stderr
        stop(first, log)


# Daemons on PostgreSQL ---------------------------------------------------------------------


def test_the_daemon_on_postgresql_stores_each_story_once_polls_again_and_prunes(
    web: Mirror,
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    seeds, _, expected = crawled_alone(tmp_path, web, NEWS_AND_DAILY)
    store = open_store(pg_url)  # an old unrelated URL and validator, due to be pruned
    try:
        store.save_seen(OLD_URL, "news", "irrelevant")
        store.save_validators(OLD_URL, Validators(etag='"v1"'))
        store.db.execute("UPDATE seen SET last_seen = ? WHERE url = ?", [to_iso(OLD), OLD_URL])
        store.db.execute(
            "UPDATE http_validators SET saved_at = ? WHERE url = ?", [to_iso(OLD), OLD_URL]
        )
        old_run = store.start_run(["gone"])  # a run of 2020, of a source polled no more
        store.db.execute(
            "UPDATE crawl_runs SET started_at = ? WHERE id = ?", [to_iso(OLD), old_run]
        )
    finally:
        store.close()
    log = tmp_path / "daemon.log"
    with reaped(start_daemon(seeds, pg_url, log)) as daemon:
        wait_until(lambda: polled_twice(pg_url, "news", "daily"), "two polls of each source")
        stop(daemon, log)
    text = logged(log)
    assert stories(lambda sql: pg_rows(pg_url, sql)) == expected
    masked = re.sub(r":[^:@/]*@", ":***@", pg_url)
    assert f"polling news, daily into {masked}" in text
    assert "pruned 1 seen URL(s), 1 validator(s) and 1 crawl run(s)" in text
    assert pg_rows(pg_url, "SELECT url FROM seen WHERE url = %s", OLD_URL) == []
    assert pg_rows(pg_url, "SELECT id FROM crawl_runs WHERE id = %s", old_run) == []
    assert advisory_locks(pg_url) == []  # every session's locks went with it
    assert_readme_log(text, "### The daemon on PostgreSQL")


def test_two_daemons_sharing_one_store_never_crawl_a_source_at_once(
    web: Mirror,
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    _, _, expected = crawled_alone(tmp_path, web, NEWS_AND_DAILY)
    # Two machines: each its own seeds directory (the same sources), one shared store.
    machines = [write_seeds(tmp_path / name, web, NEWS_AND_DAILY) for name in ("one", "two")]
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    pages = [web.hold(page) for page in SLOW_PAGES]  # daily's first crawl waits on its pages
    try:
        with reaped(start_daemon(machines[0], pg_url, logs[0])) as one:
            wait_until(lambda: any(p.arrived.is_set() for p in pages), "one's crawl of daily")
            # two runs each crawl as a child process (--workers 0), holding its lock itself.
            with reaped(start_daemon(machines[1], pg_url, logs[1], "--workers", "0")) as two:
                wait_until(
                    lambda: "daily: an earlier crawl still runs" in logged(logs[1]),
                    "two to find daily locked by one's crawl",
                )
                for page in pages:
                    page.release()
                wait_until(lambda: polled_twice(pg_url, "news", "daily"), "more polls")
                wait_until(
                    lambda: re.search(
                        r"INFO crawler\.daemon: (news|daily): \d+ entries", logged(logs[1])
                    ),
                    "a crawl by two",
                )
                stop(two, logs[1])
            stop(one, logs[0])
    finally:
        for page in pages:
            page.release()
    assert stories(lambda sql: pg_rows(pg_url, sql)) == expected
    for source in ("news", "daily"):
        runs = finished_runs(pg_url, source)
        for (_, finished, _), (started, _, _) in itertools.pairwise(runs):
            assert started >= finished, f"{source}: two crawls at once: {runs}"


def test_a_daemon_killed_9_mid_crawl_leaves_no_lock_behind(
    web: Mirror,
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    seeds, _, expected = crawled_alone(tmp_path, web, NEWS_AND_DAILY)
    log, pages = tmp_path / "daemon.log", [web.hold(page) for page in SLOW_PAGES]
    try:
        first = start_daemon(seeds, pg_url, log)
        with reaped(first):
            wait_until(lambda: any(p.arrived.is_set() for p in pages), "the crawl of daily")
            (worker,) = map(int, re.findall(r"worker (\d+) started", logged(log)))
            assert source_locked(pg_url, "daily")  # by the worker's crawl, until it dies
            with killed_at_end(worker):
                # The machine dies: the daemon and its worker (a session of its own) with -9.
                first.kill()
                os.killpg(worker, signal.SIGKILL)
        wait_until(
            lambda: advisory_locks(pg_url) == [], "the server to drop the dead sessions' locks"
        )
    finally:
        for page in pages:
            page.release()
    started = len(logged(log))
    with reaped(start_daemon(seeds, pg_url, log)) as second:
        wait_until(lambda: polled_twice(pg_url, "daily"), "two complete crawls after the restart")
        stop(second, log)
    after = logged(log)[started:]
    assert "an earlier crawl still runs" not in after  # not blocked: the locks died
    assert stories(lambda sql: pg_rows(pg_url, sql)) == expected


def test_a_child_crawl_holding_its_lock_makes_another_exit_busy(
    web: Mirror,
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    """--workers 0: each child `crawl --hold-locks` takes its source's advisory lock itself."""
    seeds = write_seeds(tmp_path / "seeds", web, DAILY)
    open_store(pg_url).close()
    held = open_locks(pg_url).take_source("daily")  # another machine's crawl of daily
    assert held is not None
    try:
        command = [
            *(str(Path(sys.executable).with_name("followup")), "crawl", "--seeds", str(seeds)),
            *("--db", pg_url, "--source", "daily", "--json", "--hold-locks", *setting_args()),
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=WAIT_CEILING, check=False
        )
    finally:
        held.release()
    assert done.returncode == BUSY_EXIT, done.stderr
    assert done.stderr == "daily: another process crawls it now; not crawled\n"
    assert pg_rows(pg_url, "SELECT id FROM crawl_runs") == []


def test_a_node_source_on_postgresql_is_a_job_writing_to_the_shared_store(
    web: Mirror,
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    with running_scrapyd() as scrapyd:
        seeds = write_seeds(tmp_path / "seeds", web, NEWS_ON_NODE + DAILY)
        (seeds / "nodes.toml").write_text(f'[[node]]\nid = "cn"\nurl = "{scrapyd.url}"\n')
        log = tmp_path / "daemon.log"
        with reaped(start_daemon(seeds, pg_url, log)) as daemon:
            wait_until(lambda: polled_twice(pg_url, "news", "daily"), "two polls of each source")
            stop(daemon, log)
    jobs = [job for _, _, job in finished_runs(pg_url, "news")]
    assert jobs and all(str(job).startswith("news-") for job in jobs)  # read back by job id
    assert all(job is None for _, _, job in finished_runs(pg_url, "daily"))
    counts = dict(pg_rows(pg_url, "SELECT source, count(*) FROM articles GROUP BY source"))
    assert counts.get("news", 0) > 0 and counts.get("daily", 0) > 0
    (last_run,) = pg_rows(pg_url, "SELECT last_run_id FROM source_state WHERE source = 'news'")
    assert (
        last_run[0]
        == pg_rows(pg_url, "SELECT max(id) FROM crawl_runs WHERE job LIKE 'news-%'")[0][0]
    )
    assert "news: job news-" in logged(log)


def test_a_worker_that_cannot_reach_the_store_for_a_lock_reports_a_failed_crawl(
    web: Mirror, tmp_path: Path
) -> None:
    """Not "busy" (which the daemon retries as another's crawl): a failure, naming the store."""
    seeds = load_seeds(write_seeds(tmp_path / "seeds", web, DAILY))
    with refused_port() as port:
        nobody = f"postgresql://followup@127.0.0.1:{port}/followup"
        worker = Worker(None, seeds, open_locks(nobody))  # type: ignore[arg-type]
        worker.out = io.BytesIO()  # type: ignore[assignment]
        worker.start("daily")
    report = parse_report(worker.out.getvalue())
    assert (report.source, report.busy, report.returncode) == ("daily", False, 1)
    (error,) = report.errors
    assert error.startswith("daily: its lock could not be taken: cannot connect to " + nobody)
    assert worker.crawls == {}
